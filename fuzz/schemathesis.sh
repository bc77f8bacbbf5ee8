#!/usr/bin/env bash
# Schemathesis over the engine's own /openapi.json: generated requests at every route
# (valid and invalid, with the token), while a model serves and a job runs; passes
# when no answer is a 5xx and the engine is alive at the end.
#   pip install schemathesis      (any venv; ST=path/to/st to point at it)
#   bash fuzz/schemathesis.sh [MAX_EXAMPLES_PER_OPERATION]   (default 500: ~10 000 requests)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-500}
st=${ST:-st}
target=${CARGO_TARGET_DIR:-target}
cargo build --quiet
work=$(mktemp -d)
trap 'kill $engine 2>/dev/null || true; rm -rf "$work"' EXIT
"$target"/debug/mlconsole engine --data-dir "$work/engine" --port 0 >"$work/out" 2>"$work/err" &
engine=$!
for _ in $(seq 1 100); do grep -q listening "$work/out" && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/out")
token=$(cat "$work/engine/token")
auth=(-H "Authorization: Bearer $token")
curl -sf "${auth[@]}" -d '{"name":"iris"}' "$base/v1/projects/local/models" >/dev/null
curl -sf "${auth[@]}" -d "{\"name\":\"v1\",\"deploymentUri\":\"$PWD/tests/fixtures/models/iris_logreg.onnx\"}" \
  "$base/v1/projects/local/models/iris/versions" >/dev/null
curl -sf "${auth[@]}" -d '{"jobId":"steady","trainingInput":{"command":["sleep","600"]}}' \
  "$base/v1/projects/local/jobs" >/dev/null
started=$(date +%s)
set +e
"$st" run "$base/openapi.json" "${auth[@]}" --checks not_a_server_error \
  --max-examples "$examples" --workers 2 --request-timeout 30 --no-color 2>&1 | tee "$work/st.log" | tail -25
status=${PIPESTATUS[0]}
set -e
echo "schemathesis: exit $status in $(( $(date +%s) - started )) s"
grep -Eo '[0-9,]+ (test cases|generated)[^,]*' "$work/st.log" | tail -3 || true
if ! curl -sf "$base/healthz" >/dev/null; then
  echo "the engine died"; tail -20 "$work/err"; exit 1
fi
echo "the engine is alive"
exit "$status"
