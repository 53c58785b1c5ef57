# One-command set-up: `make demo` and `make test` create .venv and install the project first when needed.
PYTHON ?= python
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install clean slicer

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "mechclln needs Python >= 3.12 (the DOLFINx wheel dolfinx-solver-real has no build for " + sys.version.split()[0] + "); install 3.12 or set PYTHON=python3.12")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[all,dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mechclln demo --out runs/demo --force

# the printability tests slice STL files with Debian's prusa-slicer
slicer:
	@command -v prusa-slicer >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing prusa-slicer (apt-get)"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prusa-slicer >/dev/null; \
	  else echo "the tests need prusa-slicer: run 'sudo apt-get install prusa-slicer'"; exit 2; fi; }

test: $(STAMP) slicer
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q

test-all: $(STAMP) slicer
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -q -m ''

clean:
	rm -rf $(VENV) runs
