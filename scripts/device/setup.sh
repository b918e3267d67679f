# Sourced at the start of a command on the lent GPU machine (see pack.sh): installs the carried wheels beside the
# image's own packages, unpacks the data mirror and points thesis_lib at both.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .device/whl/*.whl || return 1
mkdir -p /tmp/thesis_data && tar -C /tmp/thesis_data -xJf .device/data.tar.xz || return 1
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" THESIS_DATA_DIR=/tmp/thesis_data MPLBACKEND=Agg PYTHONUNBUFFERED=1
python3 -c "import torch, thesis_lib; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else '')"
