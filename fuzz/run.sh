#!/usr/bin/env bash
# Runs every fuzz target for a bounded time with libFuzzer (cargo-fuzz), starting from
# the kept inputs; any crash input is copied into regressions/<target>/, which
# tests/fuzz_regressions.rs replays on every `cargo test`.
#   cargo install cargo-fuzz
#   bash fuzz/run.sh [SECONDS_PER_TARGET]   (default 120)
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain take them.
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-120}
export RUSTC_BOOTSTRAP=1
status=0
for target in filter fields tfrecord instances; do
  work=$(mktemp -d)
  cp corpus/"$target"/* regressions/"$target"/* "$work"/ 2>/dev/null
  mkdir -p artifacts/"$target"
  echo "== $target: ${secs}s"
  cargo fuzz run --release "$target" "$work" -- \
    -max_total_time="$secs" -max_len=262144 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=artifacts/"$target"/ 2>&1 | grep -E "^#[0-9]+ +(DONE|pulse)|Done|ERROR|SUMMARY|panicked|stack-overflow" | tail -4
  if [[ ${PIPESTATUS[0]} -ne 0 ]]; then
    status=1
    for crash in artifacts/"$target"/*; do
      [[ -f $crash ]] && cp "$crash" regressions/"$target"/ && echo "kept $crash as a regression case"
    done
  fi
  rm -rf "$work"
done
exit $status
