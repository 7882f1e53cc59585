"""The notebooks' verifiers (workbook_grading.verifiers), without nbgrader: the solution
notebook's answers pass every verified cell for a couple of secret seeds; the round trip's
wrong answers fail the cells they fail in the notebook; an answer that calls its reference
fails, flagged ``delegated``. Each verification runs in the sandbox, as when grading."""

from __future__ import annotations

import importlib
import shutil

import nbformat
import pytest

from batching import batches
from helpers import ROOT, strip_solution_markers
from workbook_grading import verify

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap)")

# assignment -> (notebook, round-trip module, indices of its WRONG cases to check, delegation)
# The delegation: (exercise cell, an answer importing the library's reference, test cell).
NOTEBOOKS = {
    # every wrong answer but the overflow warnings (2, 3) and W2 as a column (18): the
    # notebook's own tests catch those; verification compares values
    "01_neurons": ("neurons", "test_roundtrip_01_neurons", set(range(19)) - {2, 3, 18}, (
        "ex-softmax",
        "from workbook.numpy_nn import softmax as _reference\n"
        "def softmax(z):\n    return _reference(z)\n",
        "test-softmax")),
    "02_backprop": ("backprop", "test_roundtrip_02_backprop", None, (
        "ex-affine-forward",
        "from workbook.numpy_nn import affine_forward as _reference\n"
        "def affine_forward(x, w, b):\n    return _reference(x, w, b)\n",
        "test-affine-forward")),
    # ~15-40 s each (the read-only cell defining make_mlp trains a sweep): a subset, the
    # trickiest (all 39 failed as they should when last checked)
    "03_training": ("training", "test_roundtrip_03_training", {3, 7, 8, 12, 15, 19, 23, 27, 36}, (
        "ex-mse",
        "from workbook.numpy_nn import mse as _reference\n"
        "def mse_loss(pred, target):\n    return _reference(pred, target)[0]\n",
        "test-mse")),
    # a subset (all 28 failed as they should when last checked)
    "08_attention": ("attention", "test_roundtrip_08_attention",
                     {2, 5, 6, 10, 13, 15, 16, 20, 22, 23, 25, 27}, (
        "ex-sinusoidal",
        "from workbook.nn.attention import sinusoidal_positions as _reference\n"
        "def sinusoidal_positions(T, d, base=10000.0):\n    return _reference(T, d, base=base)\n",
        "test-sinusoidal")),
    # a subset; not 3 (no ValueError raised: the notebook's tests check errors)
    "04_convolutions": ("convolutions", "test_roundtrip_04_convolutions",
                        {0, 2, 5, 7, 10, 11, 13, 14, 16, 19, 22, 23, 26, 27, 29, 30, 33, 36, 38}, (
        "ex-pad",
        "from workbook.numpy_nn.conv import pad2d as _reference\n"
        "def pad2d(x, padding):\n    return _reference(x, padding)\n",
        "test-pad")),
    # a subset (all 28 failed as they should when last checked)
    "05_word2vec": ("word2vec", "test_roundtrip_05_word2vec", None, (
        "ex-vocab",
        "from workbook.numpy_nn.word2vec import Vocab as _reference\n"
        "def build_vocab(sentences, min_count):\n"
        "    v = _reference.build(sentences, min_count=min_count)\n"
        "    return v.words, v.counts\n",
        "test-vocab")),
    # a subset (all 30 failed as they should when last checked)
    "06_rnn_lstm": ("rnn_lstm", "test_roundtrip_06_rnn_lstm", None, (
        "ex-clip",
        "from workbook.numpy_nn.rnn import clip_grad_norm as _reference\n"
        "def clip_grad_norm(grads, max_norm):\n    return _reference(grads, max_norm)\n",
        "test-clip")),
    "07_seq2seq_attention": ("seq2seq_attention", "test_roundtrip_07_seq2seq_attention", None, (
        "ex-greedy",
        "from workbook.nn.seq2seq import greedy_decode as _reference\n"
        "def greedy(model, src, max_len):\n"
        "    return _reference(model, src, BOS_ID, EOS_ID, max_len=max_len)\n",
        "test-greedy")),
    "09_transformer": ("transformer", "test_roundtrip_09_transformer", None, (
        "ex-greedy",
        "from workbook.nn.transformer import greedy_decode as _reference\n"
        "def greedy(model, src, max_len):\n"
        "    return _reference(model, src, BOS_ID, EOS_ID, max_len)\n",
        "test-greedy")),
    "10_gpt": ("gpt", "test_roundtrip_10_gpt", None, (
        "ex-top-k",
        "from workbook.nn.gpt import top_k_filter as _reference\n"
        "def top_k_filter(logits, k):\n    return _reference(logits, k)\n",
        "test-top-k")),
}
SEEDS = [12345, 2**31 + 7]


def _cells(assignment: str, notebook: str):
    nb = nbformat.read(ROOT / "solutions" / assignment / f"{notebook}.ipynb", as_version=4)
    release, submission, graded = {}, [], []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        meta = c.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        source = strip_solution_markers(c.source)
        if gid:
            release[gid] = {"source": source, "solution": bool(meta.get("solution")),
                            "grade": bool(meta.get("grade"))}
            if meta.get("grade") and not meta.get("solution"):
                graded.append(gid)
        submission.append({"grade_id": gid, "source": source})
    return release, submission, graded


def _verifier(assignment: str, notebook: str) -> verify.Verifier:
    v = verify.verifier_for(assignment, notebook)
    assert v is not None, f"no verifier for {assignment}/{notebook}"
    return v


def _wrong_groups():
    """Each notebook's chosen wrong cases in groups that cannot affect each other's cells
    (batching.batches, as the round trips' submissions): one verification per group."""
    for assignment, (notebook, module, indices, _) in NOTEBOOKS.items():
        wrong = importlib.import_module(module)
        cls = next(v for k, v in vars(wrong).items() if k.startswith("Test"))
        chosen = [i for i in range(len(cls.WRONG)) if indices is None or i in indices]
        _, submission, _ = _cells(assignment, notebook)
        cells = [(c["grade_id"] or "", c["source"]) for c in submission]
        for group in batches([cls.WRONG[i] for i in chosen], cells):
            cases = [cls.WRONG[chosen[g]] for g in group]
            yield pytest.param(assignment, cases,
                               id=f"{assignment}-" + "+".join(str(chosen[g]) for g in group))


def _substituted(submission, answers: dict[str, str]):
    out = [dict(c, source=answers[c["grade_id"]]) if c["grade_id"] in answers else c
           for c in submission]
    missing = set(answers) - {c["grade_id"] for c in submission}
    assert not missing, f"no cells {missing}"
    return out


# the second seed in `make test-slow` (the round trips verify the right answers with a new
# secret seed every run)
@pytest.mark.parametrize("seed", [SEEDS[0], pytest.param(SEEDS[1], marks=pytest.mark.slow)])
@pytest.mark.parametrize("assignment", list(NOTEBOOKS))
def test_the_solution_passes_every_verified_cell(assignment, seed):
    notebook = NOTEBOOKS[assignment][0]
    verifier = _verifier(assignment, notebook)
    release, submission, graded = _cells(assignment, notebook)
    left_out = set(getattr(importlib.import_module(f"workbook_grading.verifiers.{notebook}"),
                           "LEFT_OUT", {}))
    assert set(verifier.cells) | left_out == set(graded), "every graded cell verified or left out"
    assert not set(verifier.cells) & left_out
    verdicts = verify.verify(verifier, release, submission, seed=seed)
    failed = {c: v.reason for c, v in verdicts.items() if not v.passed}
    assert not failed, failed
    assert set(verdicts) == set(verifier.cells)


@pytest.mark.slow  # ~50 sandboxed runs: `make test-slow`
@pytest.mark.parametrize(("assignment", "cases"), list(_wrong_groups()))
def test_wrong_answers_fail_their_cells(assignment, cases):
    notebook = NOTEBOOKS[assignment][0]
    verifier = _verifier(assignment, notebook)
    release, submission, _ = _cells(assignment, notebook)
    verdicts = verify.verify(verifier, release,
                             _substituted(submission, {c.cell: c.code for c in cases}), seed=SEEDS[0])
    for case in cases:
        passed = [c for c in case.fails if c in verdicts and verdicts[c].passed]
        assert not passed, f"{case.why}: verification passed {passed}"
        assert any(c in verdicts for c in case.fails), f"{case.fails} are not verified"


@pytest.mark.parametrize("assignment", list(NOTEBOOKS))
def test_an_answer_calling_its_reference_is_flagged(assignment):
    notebook, _, _, (cell, code, test_cell) = NOTEBOOKS[assignment]
    verifier = _verifier(assignment, notebook)
    release, submission, _ = _cells(assignment, notebook)
    verdict = verify.verify(verifier, release, _substituted(submission, {cell: code}),
                            seed=SEEDS[1])[test_cell]
    assert not verdict.passed and verdict.delegated, verdict
