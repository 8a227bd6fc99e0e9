#!/usr/bin/env bash
# The GPU figures of issue 18 in one prepared run, for a lent GPU machine whose time is
# short (benchmarks/README.md, "On a GPU"). Run from the repository root:
#
#   bash benchmarks/device_check.sh
#
# Wheels in .whl/ (the machine reaches no registry) are installed to /tmp/site first:
# diffusers, importlib_metadata, sqlalchemy, alembic, mako, platformdirs, pysbd and
# tomli_w were what the H200 image lacked on 2026-12-04. Each step has its own time
# limit and writes its whole output to $OUT (or /tmp/device-check); the tail is printed.
set -u
out=${OUT:-/tmp/device-check}
python=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 PYTHONPATH=$PWD
if compgen -G ".whl/*.whl" > /dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD
fi
cli='import sys; from storyboard_app.cli import main; sys.exit(main())'

step() {
    local name=$1 limit=$2
    shift 2
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    echo "== $name: exit $? (whole output in $out/$name.txt)"
    tail -n 14 "$out/$name.txt"
}

nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
step compare_layers 150 "$python" benchmarks/story.py --device cuda --compare-official
step compare_unet 200 "$python" benchmarks/story.py --device cuda --compare-official --full-unet
step story 150 "$python" benchmarks/story.py --device cuda
projects=$(mktemp -d)
"$python" -c "$cli" new "$projects/forest.storyboard" \
    --from projects_example/forest_treasure.txt > /dev/null
step render_tiny 120 "$python" -c "$cli" render "$projects/forest.storyboard" \
    --model tiny --device cuda --size 512x512 --steps 8
