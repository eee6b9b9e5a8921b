# Set-up and everyday commands. `make app` and `make test` work on a fresh clone:
# they create .venv, install fexlab with its dev extra, then run.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.fexlab-installed
HOST   ?= 127.0.0.1
PORT   ?= 7860
# The app and the tests run offline by default; `make app OFFLINE=0` lets the hub be reached.
OFFLINE ?= 1

.PHONY: setup app test test-fast screenshots bench bench-peer clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; }
	touch $(STAMP)

app: setup
	HF_HUB_OFFLINE=$(OFFLINE) $(PY) app.py --host $(HOST) --port $(PORT)

test: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest

test-fast: setup
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m "not slow and not browser"

# Retake the README's screenshots (docs/images/screenshots/) with the browser test.
screenshots: setup
	HF_HUB_OFFLINE=1 FEXLAB_SCREENSHOTS=1 $(PY) -m pytest -m browser tests/test_browser.py

bench: setup
	HF_HUB_OFFLINE=1 $(PY) -m benchmarks

# The fer package (TensorFlow) in a venv of its own, timed on the same images in the same run.
PEER := benchmarks/.peer-venv
bench-peer: setup
	test -x $(PEER)/bin/python || $(PYTHON) -m venv $(PEER)
	$(PEER)/bin/pip install --quiet --no-deps fer==25.10.3
	$(PEER)/bin/pip install --quiet -r benchmarks/peer-requirements.txt
	HF_HUB_OFFLINE=1 $(PY) -m benchmarks --peer $(PEER)/bin/python

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
