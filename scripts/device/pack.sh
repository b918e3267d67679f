#!/usr/bin/env bash
# Packs what a lent GPU machine needs but cannot fetch (it reaches no network) into .device/ (git-ignored):
# the data mirror as one xz archive, and Python 3.12 wheels of the packages its image lacks. Run here, then name
# ".device" in the device tool's `carry` and start the command there with `source scripts/device/setup.sh`.
# Its image has Python 3.12 and its own PyTorch (2.11 when last seen), pandas, scipy, seaborn, tqdm and pillow;
# every result records the versions it ran with. gensim is not carried (27 MiB): training needs only the class
# similarity, which thesis_lib computes with numpy. Size: about 30 MiB of the 64 MiB a call may carry (working tree
# included), which leaves room for the committed full-profile run cache (about 0.1 MiB a run with its outputs).
set -euo pipefail
cd "$(dirname "$0")/../.."
src="${THESIS_DATA_DIR:-../shared/data}"
[ -d "$src/cifar10" ] || { echo "error: no data mirror at $src (set THESIS_DATA_DIR)" >&2; exit 2; }
rm -rf .device && mkdir -p .device/whl
# the pixel-exact subset is not read by training or evaluation (the best-effort file carries the exact mask)
tar -C "$src" -cJf .device/data.tar.xz --exclude=./cifar10/cifar10_test_exact_subset.npz --exclude=./README.md .
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .device/whl \
    torchattacks==3.3.0 pooch==1.9.0 platformdirs==4.5.0 imagecorruptions==1.1.2
du -sh .device
