#!/usr/bin/env bash
# Loads 1M scalars three ways, side by side: mlconsole's reader, tensorboard-data-server
# ("RustBoard", shipped with the tensorboard package) and TensorBoard's Python loader.
#   pip install tensorboard && bash benches/compare_scalars.sh [LOGDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
logdir=${1:-/tmp/mlconsole-logdir-1m}
[[ -d $logdir ]] || python3 benches/make_scalar_logdir.py "$logdir"

echo "== mlconsole"
cargo bench --quiet --bench scalars -- "$logdir" 2>/dev/null | grep "mlconsole reader"

echo "== tensorboard-data-server"
server=$(python3 -c "import tensorboard_data_server as t; print(t.server_binary())")
for _ in 1 2 3; do
  log=$(mktemp)
  "$server" --logdir "$logdir" -v --reload once --samples-per-plugin scalars=0 --port 0 >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do grep -q "Finished load cycle" "$log" && break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -o "Finished load cycle.*" "$log"
  rm -f "$log"
done

echo "== TensorBoard's Python loader (EventMultiplexer, scalars=0)"
python3 - "$logdir" <<'PY'
import sys, time
from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
start = time.time()
m = pem.EventMultiplexer(size_guidance={"scalars": 0, "tensors": 0})
m.AddRunsFromDirectory(sys.argv[1])
m.Reload()
count = sum(len(m.Tensors(run, tag)) for run, tags in m.Runs().items() for tag in tags.get("tensors", []))
print(f"python loader: {count} scalars in {time.time() - start:.2f} s")
PY
