"""Answers verified outside the student's kernel (workbook_grading.verify), through
``workbook autograde`` on notebook 01: a wrong answer that forges its test cells in the
kernel (the checks, NumPy, IPython's hooks, builtins, the reference) earns no more than
the same wrong answer without the trick, and the notebook is flagged ``mismatch``; an
answer that calls the library's reference scores 0 and is flagged; honest answers keep
their points. Then the pieces: which cells run, the stubs, the plain-data boundary."""

import shutil

import numpy as np
import pytest

from harness import Wrong, grade_cases
from workbook_grading import verify

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
                       statuses=frozenset({"ok", "mismatch"}), verify_wrong=True)


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


def test_ipython_magics_are_dropped_from_the_cells_run():
    assert verify.without_magics("x = 1\n") == "x = 1\n"  # untouched without magics
    assert verify.without_magics("%matplotlib inline\nimport numpy as np\n"
                                 "if True:\n    !ls\n    y = 2") == (
        "pass\nimport numpy as np\nif True:\n    pass\n    y = 2")
    release = {"setup": {"source": "%matplotlib inline\nimport numpy as np"},
               "ex-f": {"source": "", "solution": True}}
    submission = [{"grade_id": "setup", "source": ""},
                  {"grade_id": "ex-f", "source": "%%time\ndef f(x):\n    return np.ones(2)"}]
    assert verify.cells_to_run(release, submission) == [
        "pass\nimport numpy as np", "pass\ndef f(x):\n    return np.ones(2)"]


EXTENDED = '''
import torch
from torch import nn

def draw(rng):
    return rng.normal(size=3)

def describe(t):
    return [str(t.dtype), t * 2]

def apply(f, x):
    return f(x)

def run(model, x):
    return model(x)

def counting_step(p, g, state, lr):
    state["n"] = state.get("n", 0) + 1
    return p - lr * state["n"] * g

class Scale(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return x * self.w

def sharing(w):
    layer = nn.Linear(w.shape[1], w.shape[0], bias=False).double()
    layer.weight.data = torch.from_numpy(w)  # shares the caller's memory
    return layer

def train(model, x):
    with torch.no_grad():
        model[0].bias.add_(1.0)
    return "trained"

def seeded(seed):
    torch.manual_seed(seed)
    return torch.rand(2)

def unseeded():
    return torch.rand(2)
'''


def test_tensors_modules_generators_and_drivers_cross_as_plain_data():
    """The extensions for torch notebooks: Rng, Tensor, FnOf, Module arguments, and the
    drivers that call a student's function or class (Student) as a test cell does."""
    from workbook import checks

    release = {"setup": {"source": "import numpy as np"}, "ex": {"source": "", "solution": True}}
    submission = [{"grade_id": "setup", "source": ""}, {"grade_id": "ex", "source": EXTENDED}]
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    W, b = rng.normal(size=(2, 3)), rng.normal(size=2)
    v = verify.Verifier({})

    @v.cell("rng")
    def _(p):
        p.call("draw", verify.Rng(5)).close(np.random.default_rng(5).normal(size=3), "draw")

    @v.cell("tensor")
    def _(p):
        def check(got, *_):
            assert got[0] == "torch.float32", got[0]
            checks.assert_close(got[1], 2 * x, name="t * 2", rtol=1e-6)
        p.call("describe", verify.Tensor(x, "float32")).then(check)

    @v.cell("fn_of")
    def _(p):
        p.call("apply", verify.FnOf("weighted_sum", ("cube", w)), x).close(
            np.sum(x ** 3 * w), "weighted sum")

    @v.cell("module")
    def _(p):
        model = verify.Module((("Linear", 3, 2), ("ReLU",)), {"0.weight": W, "0.bias": b})
        p.call("run", model, verify.Tensor(x)).close(np.maximum(x @ W.T + b, 0), "Sequential",
                                                     atol=1e-12)

    @v.cell("steps")
    def _(p):
        grads = rng.normal(size=(3, 2))
        want, q = [], np.zeros(2)
        for n, g in enumerate(grads, start=1):
            q = q - 0.1 * n * g
            want.append(q)
        p.call("@steps", verify.Student("counting_step"), np.zeros(2), grads, lr=0.1).close(
            np.array(want), "one state through the steps")

    @v.cell("build")
    def _(p):
        p.call("@build", verify.Student("Scale"), (3,), state={"w": w[0]}, dtype="float64",
               inputs=(verify.Tensor(x),)).close(x * w[0], "Scale(3) with w loaded", atol=1e-12)

    @v.cell("bump")
    def _(p):
        p.call("@build", verify.Student("sharing"), (W.copy(),), inputs=(verify.Tensor(x),),
               bump=True).unchanged_inputs("sharing")  # fails: the module shares W's memory

    @v.cell("then_call")
    def _(p):
        model = verify.Module((("Linear", 3, 2),), {"0.weight": W, "0.bias": b})

        def check(got, *_):
            assert got[0] == "trained"
            checks.assert_close(got[1], x @ W.T + b + 1.0, name="the model after training",
                                atol=1e-12)
        p.call("@then_call", verify.Student("train"), (model, verify.Tensor(x)),
               inputs=(verify.Tensor(x),)).then(check)

    @v.cell("twice")
    def _(p):
        p.call("@twice", verify.Student("seeded"), 3).then(
            lambda got, *_: checks.assert_equal(got[0], got[1], name="seeded twice"))

    @v.cell("twice-unseeded")
    def _(p):
        p.call("@twice", verify.Student("unseeded")).then(
            lambda got, *_: checks.assert_equal(got[0], got[1], name="unseeded twice"))

    @v.cell("missing")
    def _(p):
        p.call("@steps", verify.Student("no_such_step"), np.zeros(2), np.zeros((1, 2)), lr=0.1)

    verdicts = verify.verify(v, release, submission, seed=1)
    failing = {"bump", "twice-unseeded", "missing"}
    assert {c for c, r in verdicts.items() if not r.passed} == failing, verdicts
    assert "changed in place" in verdicts["bump"].reason
    assert "no function or class named no_such_step" in verdicts["missing"].reason
