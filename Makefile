# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel on a laptop or CI; set TORCH="torch" (or a CUDA build) on a GPU server.
TORCH  ?= torch==2.13.0
# Triton is only used on CUDA machines, and in CI through TRITON_INTERPRET=1 (Linux x86-64 wheels only).
EXTRAS ?= $(shell $(PYTHON) -c "import platform,sys; print('dev,export,serve,webtest,triton' if sys.platform=='linux' and platform.machine()=='x86_64' else 'dev,export,serve,webtest')")
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: setup sysdeps test lint demo bench docs clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	$(PY) -m pip install -q --no-deps "hearvalidator==2021.0.2"  # its tensorflow requirement is unused here
	touch $(STAMP)

setup: $(STAMP) sysdeps

# espeak-ng renders the built-in spoken-keyword data; installed when we can (root + apt), else explained.
sysdeps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
	      || echo "warning: could not install espeak-ng; speech tests will be skipped"; \
	  else echo "note: install espeak-ng (e.g. 'sudo apt-get install espeak-ng') for the spoken-keyword demo"; fi; }
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install chromium; the browser test of aum serve will be skipped"; \
	  else echo "note: install chromium and chromium-driver for the browser test of 'aum serve'"; fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=src $(VENV)/bin/lint-imports
	PYTHONPATH=src $(VENV)/bin/mypy -p aum.ops -p aum.models -p aum.inference

test: setup lint
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/aum demo --out $(DEMO_OUT)

# does SSAMBA pretraining help? pretrained vs scratch, SSAMBA and SSAST, a drawn keyword set x 3 seeds, CPU (BENCHMARKS.md)
.PHONY: demo-ssl
demo-ssl: setup
	$(VENV)/bin/aum demo ssl --out $(DEMO_OUT)_ssl

# docs/CONFIG.md is generated from the config classes (a test checks that it is current)
docs: $(STAMP)
	$(PY) -m aum.train.config_reference > docs/CONFIG.md

bench: setup
	for b in fbank scan models; do $(VENV)/bin/aum bench $$b --out bench_out/$$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) bench_out .pytest_cache .ruff_cache

# The GPU check (bench/gpu_check.sh): no set-up step, since the GPU machine brings its own torch + Triton and has no
# registry; `make gpu-wheels` (here, with network) fetches the wheels its tests need into .whl/ for Python 3.12.
# CPU rehearsal: make gpu-check GPU_CHECK_ARGS=--dry-run
GPU_CHECK_ARGS ?=
GPU_WHEELS ?= soundfile==0.14.0 cffi==2.1.1 pycparser==3.12 soxr==1.1.0 kaldi-native-fbank==1.23.0
.PHONY: gpu-check gpu-wheels

gpu-check:
	bash bench/gpu_check.sh $(GPU_CHECK_ARGS)

gpu-wheels:
	$(PYTHON) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
	  --platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)

# Every CPU speed figure of AuM-tiny in one run (bench/cpu_acceptance.sh; QUICK=1 for a toy-size rehearsal)
.PHONY: cpu-acceptance
cpu-acceptance: setup
	bash bench/cpu_acceptance.sh bench_out/cpu_acceptance
