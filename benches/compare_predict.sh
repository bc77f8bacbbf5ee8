#!/usr/bin/env bash
# Online prediction throughput and latency, side by side in one run, on two models: the
# Iris logistic regression (which both runtimes serve) and scikit-learn's StandardScaler
# + LogisticRegression pipeline (ONNX-ML Scaler and ZipMap: ONNX Runtime only). For each:
# the engine with ONNX Runtime (the default where it is found), the engine with tract
# (a version that asks for it), the Python peer (FastAPI + onnxruntime, uvicorn with 2
# workers) and a bare axum server that only parses the JSON (the ceiling). One instance
# a request, wrk on loopback.
#   apt-get install wrk; pip install fastapi uvicorn onnxruntime numpy
#   bash benches/compare_predict.sh [SECONDS]
# BEFORE=path/to/an/older/mlconsole adds that engine's rows (Iris on ONNX Runtime) to
# the same run, to measure what a change costs.
# The python on PATH must have onnxruntime, fastapi and uvicorn (the engine finds ONNX
# Runtime through it, as it does by default).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
iris=tests/fixtures/models/iris_logreg.onnx
pipeline=tests/fixtures/exported/sk_scaler_logreg.onnx
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
cargo bench --quiet --bench bare_axum --no-run 2>/dev/null
bare=$(ls -t "$target"/release/deps/bare_axum-* | grep -v '\.d$' | head -1)

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; }

"$target"/release/mlconsole engine --data-dir "$work/engine" --port 18471 >"$work/engine.log" 2>&1 &
pids+=($!)
wait_port 18471
grep -o "serving with .*" "$work/engine.log" | head -1 | cut -c1-160
token=$(cat "$work/engine/token")
api=http://127.0.0.1:18471/v1/projects/local/models
deploy() { # model file [runtime]
  curl -sf -H "Authorization: Bearer $token" -d "{\"name\":\"$1\"}" "$api" >/dev/null
  local runtime=${3:+,\"runtime\":\"$3\"}
  curl -sf -H "Authorization: Bearer $token" \
    -d "{\"name\":\"v1\",\"deploymentUri\":\"$PWD/$2\",\"autoScaling\":{\"minNodes\":1}$runtime}" \
    "$api/$1/versions" >/dev/null
  until curl -s -H "Authorization: Bearer $token" "$api/$1/versions/v1" | grep -Eq 'READY|FAILED'; do sleep 0.1; done
  curl -s -H "Authorization: Bearer $token" "$api/$1/versions/v1" | grep -Eo '"runtime":"[^"]*"|"state":"FAILED"' | head -1
}
if [[ -n ${BEFORE:-} ]]; then
  "$BEFORE" engine --data-dir "$work/before" --port 18475 >"$work/before.log" 2>&1 &
  pids+=($!)
  wait_port 18475
  before_token=$(cat "$work/before/token")
  curl -sf -H "Authorization: Bearer $before_token" -d '{"name":"iris_ort"}' \
    http://127.0.0.1:18475/v1/projects/local/models >/dev/null
  curl -sf -H "Authorization: Bearer $before_token" \
    -d "{\"name\":\"v1\",\"deploymentUri\":\"$PWD/$iris\",\"autoScaling\":{\"minNodes\":1}}" \
    http://127.0.0.1:18475/v1/projects/local/models/iris_ort/versions >/dev/null
  until curl -s -H "Authorization: Bearer $before_token" \
    http://127.0.0.1:18475/v1/projects/local/models/iris_ort/versions/v1 | grep -Eq 'READY|FAILED'; do sleep 0.1; done
  echo "iris on BEFORE:     $BEFORE"
fi
echo "iris on the engine: $(deploy iris_ort $iris)"
echo "iris with tract:    $(deploy iris_tract $iris tract)"
echo "pipeline:           $(deploy pipeline_ort $pipeline)"
echo "pipeline on tract:  $(deploy pipeline_tract $pipeline tract) (tract has no Scaler)"

MODEL=$iris python3 -m uvicorn --app-dir benches predict_peer:app --port 18473 --workers 2 \
  --log-level warning >"$work/peer_iris.log" 2>&1 &
pids+=($!)
MODEL=$pipeline python3 -m uvicorn --app-dir benches predict_peer:app --port 18474 --workers 2 \
  --log-level warning >"$work/peer_pipeline.log" 2>&1 &
pids+=($!)
"$bare" 18472 >"$work/bare.log" 2>&1 &
pids+=($!)
wait_port 18473
wait_port 18474
wait_port 18472

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA

if [[ -n ${BEFORE:-} ]]; then
  sed "s/$token/$before_token/" "$work/post.lua" >"$work/post_before.lua"
fi

run() { # name port model concurrency
  local out script=$work/post.lua
  [[ $2 == 18475 ]] && script=$work/post_before.lua
  out=$(wrk -t "$(( $4 < 2 ? 1 : 2 ))" -c "$4" -d "${secs}s" --latency -s "$script" \
    "http://127.0.0.1:$2/v1/projects/local/models/$3:predict")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(grep -Eo "Non-2xx or 3xx responses: [0-9]+|Socket errors.*" <<<"$out" || echo "none")
  printf "%-16s c=%-3s %10s req/s   p50 %-9s p99 %-9s errors: %s\n" "$1" "$4" "$rps" "$p50" "$p99" "$errs"
}

# Warm every server up once.
for target in "18471 iris_ort" "18471 iris_tract" "18471 pipeline_ort" "18472 iris" "18473 iris" "18474 pipeline"; do
  set -- $target
  wrk -t1 -c8 -d2s -s "$work/post.lua" "http://127.0.0.1:$1/v1/projects/local/models/$2:predict" >/dev/null
done
if [[ -n ${BEFORE:-} ]]; then
  wrk -t1 -c8 -d2s -s "$work/post_before.lua" \
    "http://127.0.0.1:18475/v1/projects/local/models/iris_ort:predict" >/dev/null
fi
for c in 1 8 64; do
  echo "-- iris, c=$c"
  [[ -n ${BEFORE:-} ]] && run engine-before 18475 iris_ort "$c"
  run engine-ort 18471 iris_ort "$c"
  run engine-tract 18471 iris_tract "$c"
  run peer 18473 iris "$c"
  run bare 18472 iris "$c"
done
for c in 1 8 64; do
  echo "-- scaler+logreg pipeline, c=$c"
  run engine-ort 18471 pipeline_ort "$c"
  run peer 18474 pipeline "$c"
  run bare 18472 pipeline "$c"
done
