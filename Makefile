# Two commands matter: `make demo` (set up + run the main job) and `make test` (set up + pass the tests).
# Each builds its own virtual environment from the lock (constraints.txt) the first time.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check -q -c constraints.txt
# PostgreSQL for the storage tests; `make test` skips them with a reason when nothing answers here.
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: venv demo demo-quick test test-storage test-postgres test-cluster bench bench-gpu gpu-wheels faults lint lock clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e '.[all,dev]'
	touch $@

demo: venv
	$(VENV)/bin/hibachi demo

demo-quick: venv
	$(VENV)/bin/hibachi demo --quick

test: venv
	$(PY) -m pytest

# The storage tests alone, against PostgreSQL (each run gets a fresh schema that it drops at the end).
test-postgres: venv
	HIBACHI_TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(PY) -m pytest -m storage

# The cluster layer alone: a real kube-apiserver + etcd (KUBEBUILDER_ASSETS, else ../shared/tools/kube-apiserver
# with Debian's etcd-server). `make test` runs these too and skips them with the reason when there are no
# binaries; here a missing binary is a failure.
test-cluster: venv
	HIBACHI_TEST_CLUSTER_REQUIRED=1 $(PY) -m pytest tests/cluster

# Figures and ratios against same-run baselines into var/benchmarks.md (BENCH_ARGS="--quick --only training").
bench: venv
	$(PY) -m benchmarks $(BENCH_ARGS)

# Only on a machine with a CUDA GPU (never in CI): Llama-3.1-8B-architecture QLoRA MFU and decode vs bandwidth.
bench-gpu: venv
	PYTHON=$(PY) benchmarks/gpu.sh

# For an offline GPU machine: the wheels benchmarks/gpu.sh needs beyond a CUDA PyTorch image, at the locked versions,
# for its Python (GPU_PYTHON) on x86-64 Linux, into .gpu-wheels/ (then: GPU_WHEELS=.gpu-wheels benchmarks/gpu.sh).
GPU_PYTHON ?= 3.12
gpu-wheels: venv
	$(PY) -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -d .gpu-wheels \
	  --python-version $(GPU_PYTHON) --implementation cp --platform manylinux_2_28_x86_64 \
	  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  -c constraints.txt -r benchmarks/gpu-requirements.txt

# The fuzz test draws a fresh seed here (printed in the fault table); `make faults FUZZ_SEED=<seed>` replays one.
FUZZ_SEED ?= random
faults: venv
	FUZZ_SEED=$(FUZZ_SEED) $(PY) -m pytest -m fault -v

lint: venv
	$(VENV)/bin/ruff check .

# Regenerate the lock from a fresh resolve (review the diff before committing it).
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q 'torch==2.13.0' -e '.[all,dev]'
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^torch==' > constraints.txt.new
	echo 'torch==2.13.0' >> constraints.txt.new && sort -f constraints.txt.new -o constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .venv-lock

clean:
	rm -rf $(VENV) var .pytest_cache build *.egg-info
