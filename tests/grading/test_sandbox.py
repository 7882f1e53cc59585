"""Student kernels run in the bubblewrap sandbox (workbook_grading.sandbox), through
``workbook autograde``: the spy of bad_submissions.py, graded beside honest students,
reaches nothing; without the sandbox the same spy reaches everything (so the attacks are
real); grading refuses to start without bubblewrap unless told ``--unsandboxed``, and
then every result and the report say so."""

import ast
import os
import shutil
import sys

import nbformat
import pytest

from bad_submissions import CONNECTIONS, ESCAPES, loopback_server, spy
from tiny_course import (ADD, ASSIGNMENT, NOTEBOOK, put_submission, released_course, scores,
                         state, submission, workbook)
from workbook_grading import sandbox
from workbook_grading.autograde import UNSANDBOXED_NOTE

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed (apt-get install bubblewrap)")


def escapes(root, student="spy"):
    """What the spy's cell printed: the list of its escapes."""
    path = root / "grading" / "autograded" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and ESCAPES in out["text"]:
                return ast.literal_eval(out["text"].split(ESCAPES, 1)[1].strip())
    raise AssertionError(f"the spy's cell printed nothing: {nb.cells}")


def test_the_spy_reaches_nothing_and_keeps_its_points(autograded):
    assert escapes(autograded.root) == []
    assert scores(autograded.root)["spy"] == {"test-add": 2, "test-double": 1}
    assert (autograded.root / CONNECTIONS).read_text() == "0"
    assert not (autograded.root / "grading" / "pwned.txt").exists()
    assert not (autograded.root / "solutions" / "pwned.txt").exists()
    assert UNSANDBOXED_NOTE not in (state(autograded.root)["spy"]["detail"] or "")


def test_honest_students_beside_the_spy_keep_their_grades(autograded):
    got = scores(autograded.root)
    assert got["good"] == {"test-add": 2, "test-double": 1}
    assert got["blank"] == {"test-add": 0, "test-double": 0}


def test_the_sandbox_command_hides_the_course_and_the_home(tmp_path):
    """The pieces: what the kernel sees is read-only Python, the library and its own
    folders -- never the home folder or a folder above the checkout."""
    cmd = sandbox.command([sys.executable], scratch=tmp_path / "s", private=tmp_path / "p",
                          env={"PATH": "/usr/bin", "SECRET_TOKEN": "x", "WORKBOOK_PROFILE": "ci"})
    binds = [cmd[i + 1] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")]
    assert str(os.path.expanduser("~")) not in binds
    assert all(len(p.split("/")) > 2 for p in binds if p != "/usr"), binds
    env = {cmd[i + 1]: cmd[i + 2] for i, a in enumerate(cmd) if a == "--setenv"}
    assert "SECRET_TOKEN" not in env and env["WORKBOOK_PROFILE"] == "ci"
    assert env["HOME"].startswith(str(tmp_path / "p"))
    # /tmp is replaced before anything is bound: a checkout or virtual environment under
    # /tmp (a CI clone) must stay visible
    assert cmd.index("--tmpfs") < cmd.index("--ro-bind")
    for flag in ("--unshare-net", "--unshare-pid", "--cap-drop", "--clearenv",
                 "--unshare-user", "--disable-userns"):
        assert flag in cmd


@pytest.fixture(scope="module")
def unsandboxed(tmp_path_factory):
    """The spy and an honest student graded with --unsandboxed."""
    root = tmp_path_factory.mktemp("unsandboxed") / "course"
    root.mkdir(parents=True)
    with loopback_server(root / CONNECTIONS) as port:
        released = released_course(root)
        put_submission(root, "good", submission(released))
        put_submission(root, "spy", submission(released, add=spy(root, port)))
        run = workbook("autograde", "--unsandboxed", "--workers", "1", "--no-progress",
                       "--cell-timeout", "20", root=root)
    return root, run


def test_without_the_sandbox_the_same_spy_escapes(unsandboxed):
    """Proof that the attacks are real: unsandboxed, the spy reads the solutions and the
    gradebook, plants files and reaches the loopback server."""
    root, run = unsandboxed
    assert run.returncode == 0, run.stdout + run.stderr
    got = escapes(root)
    assert any(e.startswith("read ") and "solutions" in e for e in got), got
    assert "rewrote the gradebook" in got
    assert any(e.startswith("connected") for e in got), got
    assert (root / CONNECTIONS).read_text() != "0"


def test_unsandboxed_grading_is_stated_in_every_result_and_the_report(unsandboxed):
    root, _ = unsandboxed
    for student in ("good", "spy"):
        assert UNSANDBOXED_NOTE in state(root)[student]["detail"]
    run = workbook("report", root=root)
    assert run.returncode == 0, run.stderr
    page = (root / "grading" / "reports" / "index.html").read_text()
    assert "graded WITHOUT the sandbox" in page and "--unsandboxed" in page


def test_no_bubblewrap_refuses_to_grade_and_names_the_package(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    released = released_course(root)
    put_submission(root, "good", submission(released, add=ADD))
    empty = tmp_path / "no-tools"
    empty.mkdir()
    run = workbook("autograde", "--no-progress", root=root,
                   env=dict(os.environ, PATH=str(empty)))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "apt-get install bubblewrap" in run.stderr and "--unsandboxed" in run.stderr
    assert "good" not in scores(root)  # nothing was graded
