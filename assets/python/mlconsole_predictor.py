"""mlconsole's predictor: serves TensorFlow SavedModels, scikit-learn, XGBoost and
LightGBM artifacts and custom prediction routines with the framework itself, as Cloud ML
Engine's prediction service did.

The engine runs it in the user's Python, one process per replica:

    python mlconsole_predictor.py serve --model-dir DIR [--framework F]
        [--prediction-class pkg.Class] [--site DIR]

It answers a ready frame (the framework, the runtime and the model's inputs and outputs)
or a load error, then one answer frame per request frame. A frame is a 4-byte
little-endian length and that much JSON. A request frame is a list of prediction request
bodies (``{"instances": [...], ...}``) that arrived together; the answer frame is a list
of ``{"predictions": [...]}`` or ``{"error": "...", "bad": true|false}``, one per body.
Requests that can run together run as one model call. What the model prints goes to
stderr, never into the frames.

As ``batch`` it is a batch prediction job over JSONL files, writing the files the local
engine's own batch jobs write.
"""

import argparse
import base64
import glob
import importlib
import json
import os
import pickle
import struct
import sys
import time

# A failing batch is retried instance by instance to name the bad one, up to this many.
NAME_BAD_AMONG = 256
# Lines predicted in one model call by a batch job.
BATCH = 256


class BadInstance(ValueError):
    """An instance the model cannot take; the message names it."""


class LoadFailed(Exception):
    """The artifact cannot be served; the message says what to do."""


def need(module, what):
    """Imports ``module`` or fails the version with what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise LoadFailed(
            f"{what} needs the Python package {module!r}, which {sys.executable} cannot import ({e}); "
            f"install it there (e.g. `{sys.executable} -m pip install {PIP_NAMES.get(module, module)}`) "
            "or start the engine with --python pointing at an interpreter that has it"
        ) from e


PIP_NAMES = {"tensorflow": "tensorflow-cpu", "sklearn": "scikit-learn"}


def plain(value):
    """A JSON-ready value from what a framework returns."""
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "SO" or value.dtype.kind == "U":
                return [plain(v) for v in value.tolist()]
            return value.tolist()
        if isinstance(value, np.generic):
            return plain(value.item())
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def spec(name, dtype, shape):
    """An input or output as the engine shows it: ``null`` for a dimension of any size."""
    return {"name": name, "dtype": dtype, "shape": [d if isinstance(d, int) and d >= 0 else None for d in shape]}


def version_of(module):
    return getattr(module, "__version__", "?")


# --- TensorFlow -----------------------------------------------------------------------


class TensorFlowPredictor:
    framework = "TENSORFLOW"

    def __init__(self, model_dir):
        tf = need("tensorflow", "a TensorFlow SavedModel")
        self.tf = tf
        try:
            self.model = tf.saved_model.load(model_dir, tags=["serve"])
        except Exception as e:  # noqa: BLE001 - any load failure fails the version
            raise LoadFailed(f"TensorFlow cannot load the SavedModel in {model_dir}: {e}") from e
        self.signatures = dict(self.model.signatures)
        if not self.signatures:
            raise LoadFailed("the SavedModel has no signatures with the tag 'serve'; export it with one")
        self.default = "serving_default" if "serving_default" in self.signatures else sorted(self.signatures)[0]
        self.runtime = f"tensorflow {version_of(tf)}"

    def _inputs(self, name):
        _, kwargs = self.signatures[name].structured_input_signature
        return kwargs

    def specs(self):
        fn = self.signatures[self.default]
        inputs = [spec(n, s.dtype.name, s.shape.as_list()) for n, s in sorted(self._inputs(self.default).items())]
        outputs = [spec(n, s.dtype.name, s.shape.as_list()) for n, s in sorted(fn.structured_outputs.items())]
        return inputs, outputs

    def _column(self, name, tspec, values, first):
        tf = self.tf
        if tspec.dtype == tf.string:
            out = []
            for i, v in enumerate(values):
                out.append(self._bytes(v, first + i, name))
            try:
                return tf.constant(out, dtype=tf.string)
            except Exception as e:  # noqa: BLE001
                raise BadInstance(f'input "{name}": {e}') from e
        try:
            return tf.constant(values, dtype=tspec.dtype)
        except Exception as e:  # noqa: BLE001
            raise BadInstance(f'input "{name}" ({tspec.dtype.name} {tspec.shape}): {e}') from e

    def _bytes(self, value, index, name):
        if isinstance(value, dict) and set(value) == {"b64"}:
            try:
                return base64.b64decode(value["b64"], validate=True)
            except Exception as e:  # noqa: BLE001
                raise BadInstance(f'instance {index}: input "{name}": b64 is not base64: {e}') from e
        if isinstance(value, list):
            return [self._bytes(v, index, name) for v in value]
        if isinstance(value, str):
            return value.encode("utf-8")
        raise BadInstance(f'instance {index}: input "{name}" takes strings or {{"b64": ...}}')

    def predict(self, instances, signature_name=None, **kwargs):
        name = signature_name or self.default
        if name not in self.signatures:
            raise BadInstance(f"the SavedModel has no signature {name!r}; it has {sorted(self.signatures)}")
        if kwargs:
            raise BadInstance(f"unknown field {sorted(kwargs)[0]!r} in the request")
        fn = self.signatures[name]
        inputs = self._inputs(name)
        columns = {n: [] for n in inputs}
        for index, instance in enumerate(instances):
            if isinstance(instance, dict) and set(instance) != {"b64"}:
                unknown = set(instance) - set(columns)
                if unknown:
                    raise BadInstance(
                        f"instance {index}: unknown input {sorted(unknown)[0]!r}; the signature takes {sorted(columns)}"
                    )
                for n in columns:
                    if n not in instance:
                        raise BadInstance(f'instance {index}: input "{n}" is missing')
                    columns[n].append(instance[n])
            elif len(columns) == 1:
                columns[next(iter(columns))].append(instance)
            else:
                raise BadInstance(
                    f"instance {index}: the signature has {len(columns)} inputs; give an object keyed by {sorted(columns)}"
                )
        feeds = {n: self._column(n, inputs[n], values, 0) for n, values in columns.items()}
        try:
            results = fn(**feeds)
        except Exception as e:  # noqa: BLE001 - TensorFlow's errors are about the inputs here
            raise BadInstance(f"the model could not run on these instances: {one_line(e)}") from e
        names = sorted(results)
        arrays = {n: results[n].numpy() for n in names}
        answers = []
        for i in range(len(instances)):
            row = {}
            for n in names:
                value = arrays[n][i] if arrays[n].ndim > 0 else arrays[n]
                if n.endswith("_bytes"):
                    row[n] = b64_values(value)
                else:
                    row[n] = plain(value)
            answers.append(row[names[0]] if len(names) == 1 else row)
        return answers


def b64_values(value):
    """Outputs named ``*_bytes`` go out as ``{"b64": ...}``, as Cloud ML Engine sent them."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        return [b64_values(v) for v in value]
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    return plain(value)


def one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# --- scikit-learn and the pickled models ------------------------------------------------


def load_pickled(path):
    """A joblib or pickle file's object (joblib reads both)."""
    joblib = None
    try:
        joblib = importlib.import_module("joblib")
    except ImportError:
        pass
    try:
        if joblib is not None:
            return joblib.load(path)
        with open(path, "rb") as f:
            return pickle.load(f)  # noqa: S301 - the user's own artifact
    except ModuleNotFoundError as e:
        raise LoadFailed(
            f"{os.path.basename(path)} needs the Python package {e.name!r}, which {sys.executable} cannot import; "
            f"install it there (e.g. `{sys.executable} -m pip install {PIP_NAMES.get(e.name, e.name)}`)"
        ) from e
    except Exception as e:  # noqa: BLE001 - any unpickling failure fails the version
        raise LoadFailed(f"cannot load {os.path.basename(path)}: {one_line(e)}") from e


def is_xgboost(obj):
    return type(obj).__module__.split(".")[0] == "xgboost"


def dtype_name(dtype):
    kind = getattr(dtype, "kind", "")
    return {"f": "float64", "i": "int64", "u": "int64", "b": "bool"}.get(kind, "string")


class SklearnPredictor:
    framework = "SCIKIT_LEARN"

    def __init__(self, path):
        self.np = need("numpy", "a scikit-learn model")
        self.model = load_pickled(path)
        if not hasattr(self.model, "predict"):
            raise LoadFailed(f"{os.path.basename(path)} holds a {type(self.model).__name__}, which has no predict()")
        if is_xgboost(self.model):
            self.framework = "XGBOOST"
            self.runtime = f"xgboost {version_of(sys.modules['xgboost'])}"
        else:
            sklearn = sys.modules.get("sklearn")
            self.runtime = f"scikit-learn {version_of(sklearn)}" if sklearn else "pickle"
        names = getattr(self.model, "feature_names_in_", None)
        self.features = [str(n) for n in names] if names is not None else None
        self.n_features = getattr(self.model, "n_features_in_", None)
        self.categorical = categorical_columns(self.model)

    def specs(self):
        if self.features:
            inputs = [
                spec(n, "string" if n in self.categorical else "float64", [None]) for n in self.features
            ]
        else:
            inputs = [spec("instances", "float64", [None, self.n_features])]
        classes = getattr(self.model, "classes_", None)
        dtype = dtype_name(self.np.asarray(classes).dtype) if classes is not None else "float64"
        return inputs, [spec("predictions", dtype, [None])]

    def matrix(self, instances):
        if self.features is None:
            if any(isinstance(i, dict) for i in instances):
                raise BadInstance("this model takes each instance as a list of its features")
            return instances_array(self.np, instances)
        pandas = need("pandas", "a scikit-learn model fitted on named columns")
        rows = []
        for index, instance in enumerate(instances):
            if isinstance(instance, dict):
                missing = [n for n in self.features if n not in instance]
                if missing:
                    raise BadInstance(f'instance {index}: feature "{missing[0]}" is missing')
                unknown = sorted(set(instance) - set(self.features))
                if unknown:
                    raise BadInstance(f"instance {index}: unknown feature {unknown[0]!r}; the model takes {self.features}")
                rows.append([instance[n] for n in self.features])
            elif isinstance(instance, list) and len(instance) == len(self.features):
                rows.append(instance)
            else:
                raise BadInstance(
                    f"instance {index}: give the {len(self.features)} features {self.features} as a list or an object"
                )
        return pandas.DataFrame(rows, columns=self.features)

    def predict(self, instances, **kwargs):
        if kwargs:
            raise BadInstance(f"unknown field {sorted(kwargs)[0]!r} in the request")
        x = self.matrix(instances)
        try:
            return plain(self.model.predict(x))
        except Exception as e:  # noqa: BLE001 - the estimator's errors are about the inputs
            raise BadInstance(f"{type(e).__name__}: {one_line(e)}") from e


def instances_array(np, instances):
    try:
        array = np.asarray(instances)
    except ValueError as e:
        raise BadInstance(f"the instances are not one table of numbers: {e}") from e
    if array.dtype == object:
        raise BadInstance("every instance must be a list of the same length")
    return array


def categorical_columns(model):
    """Columns a ColumnTransformer in ``model`` one-hot or ordinal encodes."""
    found = set()
    steps = getattr(model, "steps", None) or [(None, model)]
    for _, step in steps:
        for name, transformer, columns in getattr(step, "transformers_", []) or []:
            inner = getattr(transformer, "steps", None) or [(None, transformer)]
            if any(type(t).__name__ in ("OneHotEncoder", "OrdinalEncoder") for _, t in inner):
                if isinstance(columns, (list, tuple)):
                    found.update(str(c) for c in columns)
    return found


# --- XGBoost and LightGBM boosters --------------------------------------------------------


class XGBoostPredictor:
    framework = "XGBOOST"

    def __init__(self, path):
        self.np = need("numpy", "an XGBoost model")
        xgb = need("xgboost", "an XGBoost model")
        self.xgb = xgb
        self.booster = xgb.Booster()
        try:
            self.booster.load_model(path)
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(f"XGBoost cannot load {os.path.basename(path)}: {one_line(e)}") from e
        self.runtime = f"xgboost {version_of(xgb)}"

    def specs(self):
        names = self.booster.feature_names
        n = self.booster.num_features()
        name = "instances" if not names else "features"
        return [spec(name, "float32", [None, n])], [spec("predictions", "float32", [None])]

    def predict(self, instances, **kwargs):
        if kwargs:
            raise BadInstance(f"unknown field {sorted(kwargs)[0]!r} in the request")
        x = instances_array(self.np, instances)
        try:
            matrix = self.xgb.DMatrix(x, feature_names=self.booster.feature_names)
            return plain(self.booster.predict(matrix))
        except Exception as e:  # noqa: BLE001
            raise BadInstance(f"{type(e).__name__}: {one_line(e)}") from e


class LightGBMPredictor:
    framework = "LIGHTGBM"

    def __init__(self, path):
        self.np = need("numpy", "a LightGBM model")
        lgb = need("lightgbm", "a LightGBM booster")
        try:
            self.booster = lgb.Booster(model_file=path)
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(f"LightGBM cannot load {os.path.basename(path)}: {one_line(e)}") from e
        self.runtime = f"lightgbm {version_of(lgb)}"

    def specs(self):
        return [spec("instances", "float64", [None, self.booster.num_feature()])], [spec("predictions", "float64", [None])]

    def predict(self, instances, **kwargs):
        if kwargs:
            raise BadInstance(f"unknown field {sorted(kwargs)[0]!r} in the request")
        try:
            return plain(self.booster.predict(instances_array(self.np, instances)))
        except Exception as e:  # noqa: BLE001
            raise BadInstance(f"{type(e).__name__}: {one_line(e)}") from e


# --- custom prediction routines -------------------------------------------------------------


class CustomPredictor:
    framework = ""

    def __init__(self, model_dir, prediction_class):
        module_name, _, class_name = prediction_class.rpartition(".")
        if not module_name:
            raise LoadFailed(f"predictionClass {prediction_class!r} must be module.Class")
        try:
            module = importlib.import_module(module_name)
            cls = getattr(module, class_name)
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(
                f"cannot import predictionClass {prediction_class!r} from the packageUris: {type(e).__name__}: {one_line(e)}"
            ) from e
        if not hasattr(cls, "from_path"):
            raise LoadFailed(f"{prediction_class} has no from_path(model_dir) classmethod")
        try:
            self.predictor = cls.from_path(model_dir)
        except Exception as e:  # noqa: BLE001
            raise LoadFailed(f"{prediction_class}.from_path failed: {type(e).__name__}: {one_line(e)}") from e
        self.runtime = f"custom prediction routine {prediction_class}"

    def specs(self):
        return [], []

    def predict(self, instances, **kwargs):
        try:
            return plain(list(self.predictor.predict(instances, **kwargs)))
        except Exception as e:  # noqa: BLE001
            raise BadInstance(f"{type(e).__name__}: {one_line(e)}") from e


# --- choosing the predictor -------------------------------------------------------------------

XGBOOST_FILES = ("model.bst", "model.json", "model.ubj")
PICKLED_FILES = ("model.joblib", "model.pkl")


def load(model_dir, framework="", prediction_class=""):
    """The predictor for the artifact in ``model_dir`` (or the file itself)."""
    framework = (framework or "").upper()
    if prediction_class:
        return CustomPredictor(model_dir, prediction_class)
    if os.path.isfile(model_dir):
        model_dir, only = os.path.split(model_dir)
        files = [only]
    else:
        files = sorted(os.listdir(model_dir))

    def path(name):
        return os.path.join(model_dir, name)

    if framework in ("", "TENSORFLOW") and ("saved_model.pb" in files or "saved_model.pbtxt" in files):
        return TensorFlowPredictor(model_dir)
    if framework in ("", "XGBOOST"):
        for name in XGBOOST_FILES:
            if name in files:
                return XGBoostPredictor(path(name))
    if framework in ("", "LIGHTGBM") and "model.txt" in files:
        return LightGBMPredictor(path("model.txt"))
    if framework in ("", "SCIKIT_LEARN", "XGBOOST"):
        for name in PICKLED_FILES:
            if name in files:
                return SklearnPredictor(path(name))
    wanted = {
        "TENSORFLOW": "saved_model.pb with variables/",
        "SCIKIT_LEARN": "model.joblib or model.pkl",
        "XGBOOST": "model.bst, model.json, model.ubj, model.joblib or model.pkl",
        "LIGHTGBM": "model.txt",
    }.get(framework, "a SavedModel, model.joblib, model.pkl, model.bst, model.json or model.ubj")
    raise LoadFailed(f"{model_dir} holds {files[:8]}; framework {framework or 'unset'} wants {wanted}")


def run_request(predictor, body):
    """One request body's answer."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        return {"error": 'the request body needs "instances": a list with one entry per prediction', "bad": True}
    rest = {k: v for k, v in body.items() if k != "instances"}
    instances = body["instances"]
    try:
        return {"predictions": checked(predictor.predict(instances, **rest), len(instances))}
    except BadInstance as e:
        return {"error": name_bad(predictor, instances, rest, e), "bad": True}
    except Exception as e:  # noqa: BLE001 - the model's own failure: this request's, not the worker's
        return {"error": f"the model failed: {type(e).__name__}: {one_line(e)}", "bad": False}


def checked(predictions, count):
    if not isinstance(predictions, list) or len(predictions) != count:
        got = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        raise BadInstance(f"the model answered {got} predictions for {count} instances")
    return predictions


def name_bad(predictor, instances, rest, error):
    """The error, naming the first instance that fails alone when the batch had several."""
    message = str(error)
    if len(instances) < 2 or message.startswith("instance "):
        return message if len(instances) > 1 or message.startswith("instance ") else f"instance 0: {message}"
    for index, instance in enumerate(instances[:NAME_BAD_AMONG]):
        try:
            predictor.predict([instance], **rest)
        except Exception as e:  # noqa: BLE001
            return f"instance {index}: {str(e).removeprefix('instance 0: ')}"
    return message


def run_frame(predictor, bodies):
    """Answers for bodies that arrived together: plain ones run as one model call."""
    answers = [None] * len(bodies)
    together = [
        i
        for i, b in enumerate(bodies)
        if isinstance(b, dict) and set(b) == {"instances"} and isinstance(b["instances"], list) and b["instances"]
    ]
    if len(together) > 1:
        instances = [x for i in together for x in bodies[i]["instances"]]
        try:
            predictions = checked(predictor.predict(instances), len(instances))
        except Exception:  # noqa: BLE001 - one bad body must not fail the others: run each alone
            predictions = None
        if predictions is not None:
            start = 0
            for i in together:
                n = len(bodies[i]["instances"])
                answers[i] = {"predictions": predictions[start : start + n]}
                start += n
    for i, body in enumerate(bodies):
        if answers[i] is None:
            answers[i] = run_request(predictor, body)
    return answers


# --- the worker -------------------------------------------------------------------------------


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def write_frame(out, value):
    data = json.dumps(value, separators=(",", ":"), default=plain).encode("utf-8")
    out.write(struct.pack("<I", len(data)))
    out.write(data)
    out.flush()


def describe(predictor):
    inputs, outputs = predictor.specs()
    return {
        "framework": predictor.framework,
        "runtime": f"{predictor.runtime} in Python {sys.version.split()[0]} ({sys.executable})",
        "inputs": inputs,
        "outputs": outputs,
    }


def prepare(site):
    if site:
        sys.path.insert(0, site)


def serve(args):
    # Frames go to the real stdout; anything the model prints goes to stderr.
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    prepare(args.site)
    try:
        predictor = load(args.model_dir, args.framework, args.prediction_class)
        ready = describe(predictor)
    except LoadFailed as e:
        write_frame(frames, {"failed": str(e)})
        return 3
    except Exception as e:  # noqa: BLE001 - anything else a load does is the artifact's
        write_frame(frames, {"failed": f"cannot load the model: {type(e).__name__}: {one_line(e)}"})
        return 3
    write_frame(frames, {"ready": ready})
    while True:
        header = read_exactly(requests, 4)
        if header is None:
            return 0
        data = read_exactly(requests, struct.unpack("<I", header)[0])
        if data is None:
            return 0
        bodies = json.loads(data)
        write_frame(frames, run_frame(predictor, bodies))


def batch(args):
    files = []
    for pattern in args.inputs:
        matched = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
        if not matched:
            sys.exit(f"ERROR: no file matches {pattern!r}")
        files.extend(p for p in matched if p not in files)
    started = time.time()
    prepare(args.site)
    try:
        predictor = load(args.model_dir, args.framework, args.prediction_class)
    except LoadFailed as e:
        sys.exit(f"ERROR: {e}")
    os.makedirs(args.output, exist_ok=True)
    print(f"Batch prediction over {len(files)} file(s) with {args.model_dir} on {predictor.runtime}", flush=True)
    counts = {"predictions": 0, "errors": 0}

    def compact(value):
        return json.dumps(value, separators=(",", ":"), default=plain)

    def flush(path, pending, results, errors_file):
        if not pending:
            return
        try:
            answers = checked(predictor.predict([x for _, x in pending]), len(pending))
        except Exception:  # noqa: BLE001 - one bad line must not take its neighbours: run each
            answers = None
        if answers is None:
            for number, instance in pending:
                answer = run_request(predictor, {"instances": [instance]})
                if "predictions" in answer:
                    results.write(compact(answer["predictions"][0]) + "\n")
                    counts["predictions"] += 1
                else:
                    error = answer["error"].removeprefix("instance 0: ")
                    errors_file.write(compact({"inputFile": path, "line": number, "error": error}) + "\n")
                    counts["errors"] += 1
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
                        errors_file.write(compact({"inputFile": path, "line": number, "error": f"not valid JSON: {e}"}) + "\n")
                        counts["errors"] += 1
                    if len(pending) == BATCH:
                        flush(path, pending, results, errors_file)
                flush(path, pending, results, errors_file)
            print(f"Finished {path} -> {os.path.join(args.output, name)}", flush=True)
    print(
        f"Done: {counts['predictions']} predictions, {counts['errors']} errors, in {time.time() - started:.1f} s; "
        f"results in {args.output}",
        flush=True,
    )
    if counts["errors"]:
        print(f"WARNING: {counts['errors']} line(s) could not be predicted", file=sys.stderr, flush=True)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(prog="mlconsole_predictor.py")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "batch"):
        p = sub.add_parser(name)
        p.add_argument("--model-dir", required=True)
        p.add_argument("--framework", default="")
        p.add_argument("--prediction-class", default="")
        p.add_argument("--site", default="")
        if name == "batch":
            p.add_argument("--output", required=True)
            p.add_argument("inputs", nargs="+")
    args = parser.parse_args(argv)
    return serve(args) if args.command == "serve" else batch(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
