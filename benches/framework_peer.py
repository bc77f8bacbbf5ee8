"""The Python peer of the frameworks benchmark: what a user would write instead of the
engine, FastAPI + the framework itself serving one artifact with the engine's request
and answer shapes.

    MODEL_DIR=DIR FRAMEWORK=TENSORFLOW|SCIKIT_LEARN uvicorn --app-dir benches framework_peer:app --workers 2
"""

import os

from fastapi import FastAPI, Request

MODEL_DIR = os.environ["MODEL_DIR"]
FRAMEWORK = os.environ["FRAMEWORK"]
app = FastAPI()

if FRAMEWORK == "TENSORFLOW":
    import tensorflow as tf

    signature = tf.saved_model.load(MODEL_DIR).signatures["serving_default"]
    names = sorted(signature.structured_input_signature[1])

    def predict(instances):
        feeds = {n: tf.constant([i[n] for i in instances], dtype=tf.float32) for n in names}
        out = {k: v.numpy() for k, v in signature(**feeds).items()}
        return [{k: v[i].tolist() for k, v in sorted(out.items())} for i in range(len(instances))]

else:
    import joblib
    import pandas as pd

    model = joblib.load(os.path.join(MODEL_DIR, "model.joblib"))
    columns = list(model.feature_names_in_)

    def predict(instances):
        frame = pd.DataFrame([[i[c] for c in columns] for i in instances], columns=columns)
        return model.predict(frame).tolist()


@app.post("/v1/projects/local/models/{target}")
async def serve(target: str, request: Request):
    body = await request.json()
    return {"predictions": predict(body["instances"])}
