"""Which wrong answers may share a round-trip submission (tests/grading/batching.py)."""

from batching import batches, reach
from harness import Wrong


def cells(*pairs):
    return [(gid, [source]) for gid, source in pairs]


def wrong(cell, fails, code="pass"):
    return Wrong(cell, code, fails=[fails])


def test_a_test_calling_an_earlier_answer_is_reached():
    nb = cells(("ex-a", "def a(x):\n    return x"), ("test-a", "assert a(1) == 1"),
               ("ex-b", "def b(x):\n    return a(x) + 1"), ("test-b", "assert b(1) == 2"))
    assert reach(nb, 0) == {"test-a", "ex-b", "test-b"}
    assert reach(nb, 2) == {"test-b"}


def test_values_computed_from_an_answer_carry_it_along():
    nb = cells(("ex-a", "def a(x):\n    return x"), ("demo", "y = a(2)\nz = 3"),
               ("test-y", "assert y == 2"), ("test-z", "assert z == 3"),
               ("test-fresh", "y = 5\nassert y == 5"))
    assert reach(nb, 0) == {"demo", "test-y", "test-z"}  # z is bound by a tainted cell


def test_objects_a_tainted_cell_may_mutate_are_tainted():
    nb = cells(("setup", "import torch\nmodel = torch.nn.Linear(2, 2)"),
               ("ex-fit", "def fit(m):\n    m.weight.data.zero_()"), ("train", "fit(model)"),
               ("test-model", "assert model.weight.sum() == 0"), ("test-torch", "assert torch"))
    assert reach(nb, 1) == {"train", "test-model"}  # modules are not treated as mutated


def test_a_function_reading_a_tainted_global_is_tainted():
    nb = cells(("setup", "def helper():\n    return scale * 2"), ("ex-scale", "scale = 3"),
               ("test-helper", "assert helper() == 6"))
    assert reach(nb, 1) == {"test-helper"}


def test_a_cell_that_is_not_python_reaches_everything_after_it():
    nb = cells(("ex-a", "a = 1"), ("odd", "this is not: python"), ("test-b", "assert True"))
    assert reach(nb, 0) == {"odd", "test-b"}


def test_magics_are_ignored():
    nb = cells(("ex-a", "a = 1"), ("plot", "%matplotlib inline\nb = 2"), ("test-b", "assert b"))
    assert reach(nb, 0) == set()


def test_grouping():
    nb = [("ex-a", "def a(x):\n    return x"), ("test-a", "assert a(1) == 1"),
          ("ex-b", "def b(x):\n    return a(x) + 1"), ("test-b", "assert b(1) == 2"),
          ("ex-c", "def c():\n    return 3"), ("test-c", "assert c() == 3")]
    cases = [wrong("ex-a", "test-a"), wrong("ex-a", "test-a", "def a(x):\n    return -x"),
             wrong("ex-b", "test-b"), wrong("ex-c", "test-c")]
    # a reaches test-b: never with b; the two answers to a: never together; c: anywhere
    assert batches(cases, nb) == [[0, 3], [1], [2]]


def test_a_wrong_answer_reading_other_names_counts():
    nb = [("ex-a", "a = 1"), ("ex-b", "b = 2"), ("test-b", "assert b == 2")]
    cases = [wrong("ex-a", "ex-a"), wrong("ex-b", "test-b", "b = a + 5")]
    assert batches(cases, nb) == [[0], [1]]  # only the wrong b reads a


def test_names_a_cell_binds_before_reading_are_its_own():
    nb = cells(("ex-a", "def a():\n    return 1\nn = 2"),
               ("test-loop", "for n in [1, 2]:\n    assert f'{n}'\nys = [n for n in range(3)]"),
               ("test-with", "with open(__file__) as n:\n    pass\nn = 3\nassert n"),
               ("test-after-if", "if True:\n    n = 1\nassert n"))
    assert reach(nb, 0) == {"test-after-if"}  # the branch might not have run
