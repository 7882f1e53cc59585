"""Parametrise each RoundTrip subclass's wrong-answer test over its WRONG cases."""


def pytest_generate_tests(metafunc):
    if "wrong_case" in metafunc.fixturenames and metafunc.cls is not None:
        cases = metafunc.cls.WRONG
        metafunc.parametrize("wrong_case", range(len(cases)),
                             ids=[f"{c.cell}-{i}" for i, c in enumerate(cases)])
