"""mlconsole's serving module for Ray clusters.

Uploaded by the console as the working dir of every model it deploys on Ray Serve:
one Serve application per model, one deployment (``version-<name>``) per version
serving an ONNX file with onnxruntime, and a router in front. ``POST /<model>`` goes to
the default version, ``POST /<model>/versions/<v>`` to a pinned one; both take
``{"instances": [...]}`` and answer ``{"predictions": [...]}`` with the version that
answered in the ``X-Model-Version`` header. The default is the router's
``user_config``, so switching it moves traffic without restarting a replica.

Each version's model travels in a py_modules package of its own (a folder holding
``model.onnx``, or ``model/`` with a TensorFlow SavedModel, ``model.joblib``,
``model.bst``… that ``mlconsole_predictor`` loads with the framework), so adding a
version uploads only that model.

Run as a script (``python mlconsole_serve.py batch ...``) it is a batch prediction job:
one JSON instance a line in, ``prediction.results-0000K-of-0000N`` and
``prediction.errors_stats-00000-of-00001`` out, as the local engine writes them.
"""

import argparse
import base64
import glob
import importlib
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort

# ONNX element types (from the session's type strings) to numpy dtypes.
DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(uint16)": np.uint16,
    "tensor(uint32)": np.uint32,
    "tensor(uint64)": np.uint64,
    "tensor(bool)": np.bool_,
    "tensor(string)": np.object_,
}


# Lines predicted in one model run by a batch job.
BATCH = 256


class BadInstance(ValueError):
    """An instance the model cannot take; the message names it."""


def model_path(module):
    """The model.onnx inside the py_modules package ``module``."""
    package = importlib.import_module(module)
    return os.path.join(os.path.dirname(package.__file__), "model.onnx")


# ONNX type strings to the names the console shows (as the local engine names them).
TYPE_NAMES = {"float": "float32", "double": "float64", "float16": "float16"}


def spec_text(arg):
    shape = ", ".join("N" if not isinstance(d, int) else str(d) for d in arg.shape)
    element = arg.type.removeprefix("tensor(").removesuffix(")")
    return f'input "{arg.name}" ({TYPE_NAMES.get(element, element)} [{shape}])'


def plain(value):
    """A JSON-ready value from what onnxruntime returns."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


class Predictor:
    """An ONNX model and how instances become its inputs and outputs predictions."""

    def __init__(self, path):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.inputs = self.session.get_inputs()
        self.outputs = [o.name for o in self.session.get_outputs()]

    def _value(self, index, arg, value):
        if isinstance(value, dict) and set(value) == {"b64"}:
            try:
                value = list(base64.b64decode(value["b64"], validate=True))
            except Exception as e:  # noqa: BLE001 - any decoding failure is the instance's
                raise BadInstance(f"instance {index}: {spec_text(arg)}: b64 is not base64: {e}") from e
        dtype = DTYPES.get(arg.type)
        if dtype is None:
            raise BadInstance(f"instance {index}: {spec_text(arg)}: this element type is not served")
        try:
            array = np.asarray(value, dtype=dtype)
        except (TypeError, ValueError) as e:
            raise BadInstance(f"instance {index}: {spec_text(arg)}: {e}") from e
        want = arg.shape[1:]
        if len(want) != array.ndim or any(
            isinstance(w, int) and w != g for w, g in zip(want, array.shape)
        ):
            got = "[" + ", ".join(str(d) for d in array.shape) + "]"
            raise BadInstance(f"instance {index}: {spec_text(arg)}: got shape {got} for one instance")
        return array

    def feeds(self, instances):
        """The model's inputs for ``instances`` (a list of arrays or objects)."""
        if not isinstance(instances, list) or not instances:
            raise BadInstance('"instances" must be a non-empty list')
        columns = {arg.name: [] for arg in self.inputs}
        for index, instance in enumerate(instances):
            if isinstance(instance, dict) and not (set(instance) == {"b64"}):
                unknown = set(instance) - set(columns)
                if unknown:
                    raise BadInstance(
                        f"instance {index}: unknown input {sorted(unknown)[0]!r}; the model takes {list(columns)}"
                    )
                for arg in self.inputs:
                    if arg.name not in instance:
                        raise BadInstance(f'instance {index}: input "{arg.name}" is missing')
                    columns[arg.name].append(self._value(index, arg, instance[arg.name]))
            elif len(self.inputs) == 1:
                arg = self.inputs[0]
                columns[arg.name].append(self._value(index, arg, instance))
            else:
                raise BadInstance(
                    f"instance {index}: the model has {len(self.inputs)} inputs; give an object keyed by {list(columns)}"
                )
        return {name: np.stack(values) for name, values in columns.items()}

    def predict(self, instances):
        """One prediction per instance: the value of a single output, else an object."""
        feeds = self.feeds(instances)
        try:
            results = self.session.run(None, feeds)
        except Exception as e:  # noqa: BLE001 - onnxruntime's errors are about the inputs here
            raise BadInstance(f"the model could not run on these instances: {e}") from e
        answers = []
        for i in range(len(instances)):
            row = {name: plain(result[i]) for name, result in zip(self.outputs, results)}
            answers.append(row[self.outputs[0]] if len(self.outputs) == 1 else row)
        return answers


def _deployments():
    """The Serve deployments (imported lazily so batch jobs need no Serve)."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    @serve.deployment
    class Version:
        """One version of a model."""

        def __init__(self, module, version, framework=""):
            if framework and framework != "ONNX":
                # TensorFlow, scikit-learn, XGBoost, LightGBM: the framework loads it.
                from mlconsole_predictor import load

                package = importlib.import_module(module)
                self.predictor = load(os.path.join(os.path.dirname(package.__file__), "model"), framework)
            else:
                self.predictor = Predictor(model_path(module))
            self.version = version

        def predict(self, instances):
            try:
                return {"predictions": self.predictor.predict(instances)}
            except ValueError as e:  # both predictors' BadInstance
                return {"error": str(e)}

    @serve.deployment
    class Router:
        """The model's front: sends each request to the default or the pinned version."""

        def __init__(self, **versions):
            self.versions = versions
            self.default = None

        def reconfigure(self, config):
            self.default = (config or {}).get("default_version")

        async def __call__(self, request: Request):
            parts = [p for p in request.url.path.split("/") if p]
            if request.method == "GET" and parts[-1:] == ["info"]:
                return JSONResponse({"default": self.default, "versions": sorted(self.versions)})
            version = self.default
            if len(parts) >= 3 and parts[-2] == "versions":
                version = parts[-1]
            if version is None:
                return JSONResponse({"error": "the model has no default version yet"}, status_code=503)
            handle = self.versions.get(version)
            if handle is None:
                return JSONResponse({"error": f"the model has no version {version!r}"}, status_code=404)
            try:
                body = await request.json()
            except Exception as e:  # noqa: BLE001 - any unreadable body is the client's
                return JSONResponse({"error": f"the body is not JSON: {e}"}, status_code=400)
            if not isinstance(body, dict) or "instances" not in body:
                return JSONResponse({"error": 'give {"instances": [...]}'}, status_code=400)
            answer = await handle.predict.remote(body["instances"])
            status = 400 if "error" in answer else 200
            return JSONResponse(answer, status_code=status, headers={"X-Model-Version": version})

    return Version, Router


def build_app(args):
    """The application of one model: ``args = {"versions": {name: {"module": ...}}}``."""
    Version, Router = _deployments()
    handles = {
        name: Version.options(name=f"version-{name}").bind(spec["module"], name, spec.get("framework", ""))
        for name, spec in (args or {}).get("versions", {}).items()
    }
    return Router.options(name="router").bind(**handles)


def compact(value):
    """JSON without spaces, as the local engine writes it."""
    return json.dumps(value, separators=(",", ":"))


def batch(argv):
    """Predicts every line of the input files into the output folder."""
    parser = argparse.ArgumentParser(prog="mlconsole_serve.py batch")
    parser.add_argument("--module", required=True, help="the version's model package")
    parser.add_argument("--output", required=True, help="the folder results go to")
    parser.add_argument("--framework", default="", help="the framework that loads a non-ONNX model")
    parser.add_argument("inputs", nargs="+", help="JSONL files or globs")
    args = parser.parse_args(argv)
    files = []
    for pattern in args.inputs:
        matched = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        if not matched:
            sys.exit(f"ERROR: no file matches {pattern!r}")
        files.extend(p for p in matched if p not in files)
    started = time.time()
    if args.framework and args.framework != "ONNX":
        from mlconsole_predictor import load

        package = importlib.import_module(args.module)
        predictor = load(os.path.join(os.path.dirname(package.__file__), "model"), args.framework)
    else:
        predictor = Predictor(model_path(args.module))
    os.makedirs(args.output, exist_ok=True)
    print(f"Batch prediction over {len(files)} file(s) with {args.module}", flush=True)
    counts = {"predictions": 0, "errors": 0}

    def error(path, number, message):
        message = message.removeprefix("instance 0: ")
        record = {"inputFile": path, "line": number, "error": message}
        errors_file.write(json.dumps(record, separators=(",", ":")) + "\n")
        counts["errors"] += 1

    def flush(path, pending, results):
        """All pending lines in one run, or one by one when that fails."""
        if not pending:
            return
        try:
            answers = predictor.predict([instance for _, instance in pending])
        except ValueError:  # either predictor's BadInstance
            answers = None
        if answers is None:
            for number, instance in pending:
                try:
                    results.write(compact(predictor.predict([instance])[0]) + "\n")
                    counts["predictions"] += 1
                except ValueError as e:
                    error(path, number, str(e))
        else:
            for answer in answers:
                results.write(compact(answer) + "\n")
            counts["predictions"] += len(answers)
        pending.clear()

    with open(os.path.join(args.output, "prediction.errors_stats-00000-of-00001"), "w") as errors_file:
        for index, path in enumerate(files):
            name = f"prediction.results-{index:05d}-of-{len(files):05d}"
            with open(path) as source, open(os.path.join(args.output, name), "w") as results:
                pending = []
                for number, line in enumerate(source, start=1):
                    if not line.strip():
                        continue
                    try:
                        pending.append((number, json.loads(line)))
                    except ValueError as e:
                        error(path, number, f"not valid JSON: {e}")
                    if len(pending) == BATCH:
                        flush(path, pending, results)
                flush(path, pending, results)
            print(f"Finished {path} -> {os.path.join(args.output, name)}", flush=True)
    predictions, errors = counts["predictions"], counts["errors"]
    print(
        f"Done: {predictions} predictions, {errors} errors, in {time.time() - started:.1f} s; results in {args.output}",
        flush=True,
    )
    if errors:
        print(f"WARNING: {errors} line(s) could not be predicted", file=sys.stderr, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["batch"]:
        sys.exit("usage: python mlconsole_serve.py batch --module M --output DIR INPUT...")
    batch(sys.argv[2:])
