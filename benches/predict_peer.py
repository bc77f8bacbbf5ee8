"""The Python peer of the predict benchmark: FastAPI + onnxruntime serving one ONNX model
with the same request and answer shapes as the engine (ZipMap's maps as JSON objects).

    MODEL=tests/fixtures/models/iris_logreg.onnx uvicorn --app-dir benches predict_peer:app --workers 2
"""

import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request

session = ort.InferenceSession(os.environ["MODEL"], providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
output_names = [o.name for o in session.get_outputs()]
app = FastAPI()


@app.post("/v1/projects/local/models/{target}")
async def predict(target: str, request: Request):
    body = await request.json()
    x = np.asarray(body["instances"], dtype=np.float32)
    outputs = session.run(None, {input_name: x})
    predictions = [
        {name: plain(out[i]) for name, out in zip(output_names, outputs)} for i in range(len(x))
    ]
    return {"predictions": predictions}


def plain(value):
    """A JSON-ready value: arrays as lists; ZipMap's maps (of class to probability) stay."""
    return value.tolist() if hasattr(value, "tolist") else value
