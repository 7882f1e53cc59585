"""Parametrise each RoundTrip subclass's wrong-answer test over its WRONG cases; the
``autograded`` course shared by the autograde and export tests."""

import json
import os
import subprocess

import pytest


def pytest_generate_tests(metafunc):
    if "wrong_case" in metafunc.fixturenames and metafunc.cls is not None:
        cases = metafunc.cls.WRONG
        metafunc.parametrize("wrong_case", range(len(cases)),
                             ids=[f"{c.cell}-{i}" for i, c in enumerate(cases)])


@pytest.fixture(scope="session")
def autograded(tmp_path_factory):
    """The tiny course with every bad submission (bad_submissions.py), graded once by
    ``workbook autograde --workers 2``: once per run, also under pytest-xdist, where the
    first worker that needs it grades it and the others wait for it (xdist's recipe)."""
    from bad_submissions import Graded, graded_course

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return graded_course(tmp_path_factory.mktemp("autograded") / "course")
    from filelock import FileLock  # a dependency of torch

    shared = tmp_path_factory.getbasetemp().parent / "autograded"  # common to the workers
    done = shared / "graded.json"
    with FileLock(f"{shared}.lock"):
        if not done.exists():
            graded = graded_course(shared / "course")
            done.write_text(json.dumps({"returncode": graded.run.returncode,
                                        "stdout": graded.run.stdout,
                                        "stderr": graded.run.stderr,
                                        "seconds": graded.seconds}))
    run = json.loads(done.read_text())
    return Graded(shared / "course", subprocess.CompletedProcess(
        args=["workbook", "autograde"], returncode=run["returncode"], stdout=run["stdout"],
        stderr=run["stderr"]), run["seconds"])
