"""Answers verified outside the student's kernel (workbook.grading.verify), through
``workbook autograde`` on notebook 01: a wrong answer that forges its test cells in the
kernel (the checks, NumPy, IPython's hooks, builtins, the reference) earns no more than
the same wrong answer without the trick, and the notebook is flagged ``mismatch``; an
answer that calls the library's reference scores 0 and is flagged; honest answers keep
their points. Then the pieces: which cells run, the stubs, the plain-data boundary."""

import shutil

import numpy as np
import pytest

from harness import Wrong, grade_cases
from workbook.grading import verify

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap)")

WRONG_SOFTMAX = "def softmax(z):\n    return np.exp(z)  # not normalised\n"
SOFTMAX_CELLS = ["test-softmax", "test-softmax-stable"]
TRICKS = {
    "the checks replaced": "from workbook import checks\n"
                           "checks.assert_close = lambda *a, **k: None\n"
                           "checks.assert_shape = lambda *a, **k: None\n",
    "NumPy's comparisons replaced": "np.abs = lambda x: np.zeros_like(np.asarray(x, dtype=float))\n"
                                    "np.isnan = lambda x: np.zeros(np.shape(x), dtype=bool)\n",
    "an IPython handler swallows failures": "get_ipython().set_custom_exc(\n"
                                            "    (Exception,), lambda *a, **k: None)\n",
    "an IPython input transformer empties test cells":
        "get_ipython().input_transformers_post.append(\n"
        "    lambda lines: ['pass\\n'] if 'checks.' in ''.join(lines) else lines)\n",
    "builtins and the global name `checks` rebound":
        "import builtins\nclass checks:\n"
        "    assert_close = assert_shape = assert_equal = staticmethod(lambda *a, **k: None)\n"
        "_import = builtins.__import__\n"
        "builtins.__import__ = lambda name, *a, **k: _import(name, *a, **k)\n",
    "the reference replaced by the wrong answer":
        "import workbook.numpy_nn as _nn\nfrom workbook import checks\n"
        "_nn.softmax = lambda z: np.exp(z)\n"
        "checks.assert_close = lambda *a, **k: None\n",
}
DELEGATES = {
    "import": "from workbook.numpy_nn import softmax as _reference\n"
              "def softmax(z):\n    return _reference(z)\n",
    "importlib": "import importlib\n"
                 "def softmax(z):\n"
                 "    return importlib.import_module('workbook.numpy_nn.losses').softmax(z)\n",
    "sys.modules and getattr": "import sys\nimport workbook.numpy_nn\n"
                               "def softmax(z):\n"
                               "    return getattr(sys.modules['workbook.numpy_nn'], 'soft' + 'max')(z)\n",
}
CASES = ([Wrong("ex-softmax", WRONG_SOFTMAX, SOFTMAX_CELLS, "wrong, no trick")]
         + [Wrong("ex-softmax", trick + WRONG_SOFTMAX, SOFTMAX_CELLS, why)
            for why, trick in TRICKS.items()]
         + [Wrong("ex-softmax", code, SOFTMAX_CELLS, f"delegates to the reference: {why}")
            for why, code in DELEGATES.items()])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    # one submission per case (batch=False): a trick must not reach another case's cells
    return grade_cases("01_neurons", CASES, [], tmp_path_factory.mktemp("verify"), batch=False,
                       statuses=frozenset({"ok", "mismatch"}))


def total(graded, student):
    return sum(score for score, _ in graded.scores[student].values())


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c.why for c in CASES])
def test_a_trick_earns_no_more_than_the_wrong_answer_without_it(graded, case):
    plain = graded.wrong_student[0]
    student = graded.wrong_student[case]
    assert total(graded, student) <= total(graded, plain), graded.notes[student]
    for cell in SOFTMAX_CELLS:
        assert graded.scores[student][cell][0] == 0, graded.describe(student, cell)


@pytest.mark.parametrize("why", ["the checks replaced", "NumPy's comparisons replaced",
                                 "an IPython input transformer empties test cells",
                                 "builtins and the global name `checks` rebound",
                                 "the reference replaced by the wrong answer"])
def test_a_forged_pass_in_the_kernel_is_flagged_as_a_mismatch(graded, why):
    """These tricks do make the test cells pass in the kernel (an IPython exception handler
    does not: the kernel still replies with an error): the verification says so."""
    case = next(i for i, c in enumerate(CASES) if c.why == why)
    notes = graded.notes[graded.wrong_student[case]]
    assert "test-softmax: passed in the notebook" in notes, notes
    assert "not when re-run outside it" in notes


@pytest.mark.parametrize("why", list(DELEGATES))
def test_calling_the_reference_scores_zero_and_is_flagged(graded, why):
    case = next(i for i, c in enumerate(CASES) if c.why.endswith(why))
    notes = graded.notes[graded.wrong_student[case]]
    assert "reference answer" in notes, notes


def test_honest_answers_keep_their_points(graded):
    lost = [graded.describe("solution", c) for c, (s, m) in graded.scores["solution"].items()
            if s != m]
    assert not lost, lost
    assert "mismatch" not in graded.notes["solution"] and "outside" not in graded.notes["solution"]


# ------------------------------------------------------------------ the pieces

def test_cells_to_run_takes_answers_and_the_release_cells_they_need():
    release = {"setup": {"source": "import numpy as np"},
               "data": {"source": "SCALE = 2.0"},
               "demo": {"source": "for _ in range(10**9): pass"},
               "ex-f": {"source": "", "solution": True},
               "test-f": {"source": "assert f(1) == 2", "grade": True}}
    submission = [{"grade_id": "setup", "source": "import os; os.remove('/x')"},  # a copy
                  {"grade_id": "data", "source": "SCALE = 2.0"},
                  {"grade_id": "demo", "source": "for _ in range(10**9): pass"},
                  {"grade_id": "ex-f", "source": "def f(x):\n    y = x\n    return y * SCALE"},
                  {"grade_id": "test-f", "source": "pass"},
                  {"grade_id": None, "source": "def helper(): return 1"}]
    assert verify.cells_to_run(release, submission) == [
        "import numpy as np", "SCALE = 2.0", "def f(x):\n    y = x\n    return y * SCALE",
        "def helper(): return 1"]


def test_a_reference_stub_raises_and_keeps_the_rest_of_its_module(tmp_path):
    [(stub, origin)] = verify.stub_files(("workbook.numpy_nn.losses:softmax",), tmp_path)
    assert origin.name == "losses.py"
    namespace: dict = {}
    exec(compile(stub.read_text(), str(stub), "exec"), namespace)
    with pytest.raises(RuntimeError, match=verify.DELEGATED):
        namespace["softmax"](np.zeros(3))
    assert namespace["mse"](np.zeros(3), np.zeros(3))[0] == 0  # the rest is the library's


def test_only_plain_data_crosses_back(tmp_path):
    """An answer returning an object (which pickle would happily carry) is refused."""
    release = {"setup": {"source": "import numpy as np"}, "ex-f": {"source": "", "solution": True}}
    submission = [{"grade_id": "setup", "source": ""},
                  {"grade_id": "ex-f", "source": "class Sneaky:\n"
                                                 "    def __reduce__(self):\n"
                                                 "        return (print, ('pwned',))\n"
                                                 "def f(x):\n    return Sneaky()"}]
    v = verify.Verifier({})

    @v.cell("test-f")
    def _(p):
        p.call("f", np.ones(2)).close(np.ones(2), "f")

    verdict = verify.verify(v, release, submission, seed=1)["test-f"]
    assert not verdict.passed and "Sneaky" in verdict.reason
