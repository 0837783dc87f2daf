# Every target sets itself up: a fresh machine needs only python3 (>= 3.10) and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CPU wheel on a laptop or CI; set TORCH="torch" (or a CUDA build) on a GPU server.
TORCH  ?= torch==2.13.0
# Triton is only used on CUDA machines, and in CI through TRITON_INTERPRET=1 (Linux x86-64 wheels only).
EXTRAS ?= $(shell $(PYTHON) -c "import platform,sys; print('dev,triton' if sys.platform=='linux' and platform.machine()=='x86_64' else 'dev')")
STAMP  := $(VENV)/.installed
DEMO_OUT ?= demo_out

.PHONY: setup sysdeps test lint demo bench clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

setup: $(STAMP) sysdeps

# espeak-ng renders the built-in spoken-keyword data; installed when we can (root + apt), else explained.
sysdeps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
	      || echo "warning: could not install espeak-ng; speech tests will be skipped"; \
	  else echo "note: install espeak-ng (e.g. 'sudo apt-get install espeak-ng') for the spoken-keyword demo"; fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: setup lint
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/aum demo --out $(DEMO_OUT)

# does SSAMBA pretraining help? pretrained vs scratch, 3 encoders x 3 seeds, CPU (see BENCHMARKS.md)
.PHONY: demo-ssl
demo-ssl: setup
	$(VENV)/bin/aum demo ssl --out $(DEMO_OUT)_ssl

bench: setup
	for b in fbank scan models; do $(VENV)/bin/aum bench $$b --out bench_out/$$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT) bench_out .pytest_cache .ruff_cache
