#!/usr/bin/env bash
# Builds the Debian package (target dir's debian/mlconsole_<version>-1_amd64.deb):
#   bash packaging/build-deb.sh         a release build, then the package
#   bash packaging/build-deb.sh --dev   packages the debug build already made (CI's check)
# Needs cargo-deb (`cargo install cargo-deb`), python3 with pip, and dpkg-dev.
set -euo pipefail
cd "$(dirname "$0")/.."

# The ONNX Runtime the package ships: the wheel .ci/run pins, taken at packaging time.
ORT_VERSION=1.32.0

profile=release
[[ ${1:-} == --dev ]] && profile=dev
target_dir=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
if [[ $profile == release ]]; then
  cargo build --release --locked
  bin="$target_dir/release/mlconsole"
else
  bin="$target_dir/debug/mlconsole"
  [[ -x $bin ]] || cargo build --locked
fi

stage=packaging/build
rm -rf "$stage"
mkdir -p "$stage"
"$bin" generate-assets --out "$stage" >/dev/null
for size in 16 24 32 48 64 128 256 512; do
  mkdir -p "$stage/icons/${size}x${size}"
  python3 icons/make_icon.py "$size" "$stage/icons/${size}x${size}/mlconsole.png"
done

wheels="$target_dir/onnxruntime-wheel"
if ! ls "$wheels"/onnxruntime-"$ORT_VERSION"-*.whl >/dev/null 2>&1; then
  python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$wheels" "onnxruntime==$ORT_VERSION"
fi
python3 - "$wheels" "$ORT_VERSION" "$stage/onnxruntime" <<'PY'
import glob, os, sys, zipfile
wheels, version, out = sys.argv[1:]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(glob.glob(f"{wheels}/onnxruntime-{version}-*.whl")[0]) as wheel:
    for inside, name in [
        (f"onnxruntime/capi/libonnxruntime.so.{version}", f"libonnxruntime.so.{version}"),
        ("onnxruntime/LICENSE", "LICENSE"),
        ("onnxruntime/ThirdPartyNotices.txt", "ThirdPartyNotices.txt"),
    ]:
        with wheel.open(inside) as src, open(os.path.join(out, name), "wb") as dst:
            dst.write(src.read())
PY

if [[ $profile == release ]]; then
  cargo deb --no-build --locked
else
  # A check of the package, not a release: fast compression.
  cargo deb --no-build --locked --profile dev --fast 2>/dev/null
fi
