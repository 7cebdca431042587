#!/usr/bin/env bash
# The GPU checks and benchmarks, in one short run on a machine with a CUDA GPU (~5 minutes).
#
#   bash scripts/bench/gpu.sh                # results under bench-data/gpu/, or under $OUT if set
#   bash scripts/bench/gpu.sh tests layouts  # only these steps (tests augment layouts loaders)
#
# Runs the tests that only a GPU exercises (loader(device="cuda") with raw and compact stores,
# nvJPEG decoding against the CPU decoder, HeatmapAugment on CUDA against the CPU), then the GPU
# rows of the augmentation, layout (nvJPEG decode) and loader benchmarks. Needs python3 with a
# CUDA torch and torchvision; TensorFlow is optional (its rows are skipped without it). Packages
# missing from the machine can travel as wheels in .whl/ (installed with --no-index).
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=${OUT:-bench-data/gpu}
mkdir -p "$RESULTS"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/neural-datasets-site .whl/*.whl || exit 1
    export PYTHONPATH=$PWD:/tmp/neural-datasets-site
fi
status=0
STEPS=" ${*:-tests augment layouts loaders} "
step() { # name, command...: run one step with a time limit, log it, remember failures
    local name=$1
    shift
    [[ $STEPS == *" $name "* ]] || return 0
    echo "=== $name: $*"
    local start=$SECONDS
    timeout 240 "$@" 2>&1 | tee "$RESULTS/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - start)) s"
    if [ "$rc" -ne 0 ]; then # what killed it, where the system tells
        free -m
        dmesg 2>/dev/null | tail -5
    fi
    [ "$rc" -eq 0 ] || status=1
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', \
torchvision.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())" || exit 1
step tests python3 -m pytest -q -p no:cacheprovider --timeout 120 \
    tests/adapters/test_torch_cuda.py tests/augment/test_augment_torch.py
step augment python3 scripts/bench/bench_augment.py --repeats 7 --json "$RESULTS/augment.json"
step layouts python3 scripts/bench/bench_layouts.py --rounds 3 --json "$RESULTS/layouts.json"
step loaders python3 scripts/bench/bench_loaders.py --rounds 3 --no-rss --only c0 k8 e g gk gn \
    --json "$RESULTS/loaders.json"
exit $status
