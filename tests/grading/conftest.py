"""Parametrise each RoundTrip subclass's wrong-answer test over its WRONG cases; the
``autograded`` course shared by the autograde and export tests."""

import pytest


def pytest_generate_tests(metafunc):
    if "wrong_case" in metafunc.fixturenames and metafunc.cls is not None:
        cases = metafunc.cls.WRONG
        metafunc.parametrize("wrong_case", range(len(cases)),
                             ids=[f"{c.cell}-{i}" for i, c in enumerate(cases)])


@pytest.fixture(scope="session")
def autograded(tmp_path_factory):
    """The tiny course with every bad submission (bad_submissions.py), graded once by
    ``workbook autograde --workers 2``."""
    from bad_submissions import graded_course

    return graded_course(tmp_path_factory.mktemp("autograded") / "course")
