#!/usr/bin/env bash
# Online prediction with the frameworks themselves, side by side in one run: a Keras
# SavedModel (named inputs, two outputs) and a scikit-learn ColumnTransformer pipeline
# (joblib), each served by the engine (its Python workers, up to one per core), by the
# Python peer a user would write instead (FastAPI + the framework, uvicorn with 2
# workers), and by a bare axum server that only parses the JSON (the ceiling). One
# instance a request, wrk on loopback; then the ONNX path on the same run for reference.
#   apt-get install wrk; pip install fastapi uvicorn tensorflow-cpu scikit-learn joblib pandas
#   bash benches/compare_frameworks.sh [SECONDS]
# The python on PATH must have the frameworks, fastapi and uvicorn (the engine's workers
# run in it, as by default).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 tests/fixtures/frameworks/make_frameworks.py "$work/fixtures" >/dev/null 2>&1
keras=$work/fixtures/tf_keras
pipeline=$work/fixtures/sk_pipeline

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
cargo bench --quiet --bench bare_axum --no-run 2>/dev/null
bare=$(ls -t "$target"/release/deps/bare_axum-* | grep -v '\.d$' | head -1)

wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; }

"$target"/release/mlconsole engine --data-dir "$work/engine" --port 18481 >"$work/engine.log" 2>&1 &
pids+=($!)
wait_port 18481
token=$(cat "$work/engine/token")
api=http://127.0.0.1:18481/v1/projects/local/models
deploy() { # model dir
  curl -sf -H "Authorization: Bearer $token" -d "{\"name\":\"$1\"}" "$api" >/dev/null
  curl -sf -H "Authorization: Bearer $token" \
    -d "{\"name\":\"v1\",\"deploymentUri\":\"$2\",\"autoScaling\":{\"minNodes\":1}}" \
    "$api/$1/versions" >/dev/null
  until curl -s -H "Authorization: Bearer $token" "$api/$1/versions/v1" | grep -Eq 'READY|FAILED'; do sleep 0.2; done
  curl -s -H "Authorization: Bearer $token" "$api/$1/versions/v1" | grep -Eo '"runtime":"[^"]*"|"errorMessage":"[^"]*"' | head -1
}
echo "keras:    $(deploy keras "$keras")"
echo "pipeline: $(deploy pipeline "$pipeline")"
echo "iris:     $(deploy iris "$PWD/tests/fixtures/models/iris_logreg.onnx")"

MODEL_DIR=$keras FRAMEWORK=TENSORFLOW python3 -m uvicorn --app-dir benches framework_peer:app \
  --port 18483 --workers 2 --log-level warning >"$work/peer_keras.log" 2>&1 &
pids+=($!)
MODEL_DIR=$pipeline FRAMEWORK=SCIKIT_LEARN python3 -m uvicorn --app-dir benches framework_peer:app \
  --port 18484 --workers 2 --log-level warning >"$work/peer_pipeline.log" 2>&1 &
pids+=($!)
MODEL=tests/fixtures/models/iris_logreg.onnx python3 -m uvicorn --app-dir benches predict_peer:app \
  --port 18485 --workers 2 --log-level warning >"$work/peer_iris.log" 2>&1 &
pids+=($!)
"$bare" 18482 >"$work/bare.log" 2>&1 &
pids+=($!)
for port in 18482 18483 18484 18485; do wait_port $port; done

script() { # name body
  cat >"$work/$1.lua" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA
}
script keras '{"instances": [{"sepal": [5.1, 3.5], "petal": [1.4, 0.2]}]}'
script pipeline '{"instances": [{"age": 25.0, "hours": 38.5, "city": "paris"}]}'
script iris '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'

run() { # name port model concurrency
  local out
  out=$(wrk -t "$(( $4 < 2 ? 1 : 2 ))" -c "$4" -d "${secs}s" --latency -s "$work/$3.lua" \
    "http://127.0.0.1:$2/v1/projects/local/models/$3:predict")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(grep -Eo "Non-2xx or 3xx responses: [0-9]+|Socket errors.*" <<<"$out" || echo "none")
  printf "%-10s c=%-3s %10s req/s   p50 %-9s p99 %-9s errors: %s\n" "$1" "$4" "$rps" "$p50" "$p99" "$errs"
}

for t in "18481 keras" "18483 keras" "18481 pipeline" "18484 pipeline" "18481 iris" "18485 iris" "18482 iris"; do
  set -- $t
  wrk -t1 -c8 -d2s -s "$work/$2.lua" "http://127.0.0.1:$1/v1/projects/local/models/$2:predict" >/dev/null
done
for model in keras pipeline; do
  peer=$([[ $model == keras ]] && echo 18483 || echo 18484)
  for c in 1 64; do
    echo "-- $model, c=$c"
    run engine 18481 "$model" "$c"
    run peer "$peer" "$model" "$c"
    run bare 18482 "$model" "$c"
  done
done
for c in 1 64; do
  echo "-- iris (ONNX), c=$c"
  run engine 18481 iris "$c"
  run peer 18485 iris "$c"
  run bare 18482 iris "$c"
done
grep -c "cannot start a worker\|worker process" "$work/engine.log" | sed 's/^/worker failures in the engine log: /'
