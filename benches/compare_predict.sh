#!/usr/bin/env bash
# Online prediction throughput and latency, side by side in one run: the engine (tract),
# the Python peer (FastAPI + onnxruntime, uvicorn with 2 workers) and a bare axum server
# that only parses the JSON (the ceiling). One instance a request, wrk on loopback.
#   apt-get install wrk; pip install fastapi uvicorn onnxruntime numpy
#   bash benches/compare_predict.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
model=tests/fixtures/models/iris_logreg.onnx
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
cargo bench --quiet --bench bare_axum --no-run 2>/dev/null
bare=$(ls -t target/release/deps/bare_axum-* | grep -v '\.d$' | head -1)

wait_port() { for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; }

target/release/mlconsole engine --data-dir "$work/engine" --port 18471 >"$work/engine.log" 2>&1 &
pids+=($!)
wait_port 18471
token=$(cat "$work/engine/token")
api=http://127.0.0.1:18471/v1/projects/local/models
curl -sf -H "Authorization: Bearer $token" -d '{"name":"iris"}' "$api" >/dev/null
curl -sf -H "Authorization: Bearer $token" \
  -d "{\"name\":\"v1\",\"deploymentUri\":\"$PWD/$model\",\"autoScaling\":{\"minNodes\":1}}" \
  "$api/iris/versions" >/dev/null
until curl -s -H "Authorization: Bearer $token" "$api/iris/versions/v1" | grep -q READY; do sleep 0.1; done

MODEL=$model python3 -m uvicorn --app-dir benches predict_peer:app --port 18473 --workers 2 \
  --log-level warning >"$work/peer.log" 2>&1 &
pids+=($!)
"$bare" 18472 >"$work/bare.log" 2>&1 &
pids+=($!)
wait_port 18473
wait_port 18472

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $token"
LUA

run() { # name port concurrency
  local out
  out=$(wrk -t "$(( $3 < 2 ? 1 : 2 ))" -c "$3" -d "${secs}s" --latency -s "$work/post.lua" \
    "http://127.0.0.1:$2/v1/projects/local/models/iris:predict")
  local rps p50 p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(grep -Eo "Non-2xx or 3xx responses: [0-9]+|Socket errors.*" <<<"$out" || echo "none")
  printf "%-8s c=%-3s %10s req/s   p50 %-9s p99 %-9s errors: %s\n" "$1" "$3" "$rps" "$p50" "$p99" "$errs"
}

# Warm every server up once.
for port in 18471 18472 18473; do
  wrk -t1 -c8 -d2s -s "$work/post.lua" "http://127.0.0.1:$port/v1/projects/local/models/iris:predict" >/dev/null
done
for c in 1 8 64; do
  run engine 18471 "$c"
  run peer 18473 "$c"
  run bare 18472 "$c"
done
