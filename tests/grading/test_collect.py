"""`workbook collect`: LMS downloads (folder or .zip) into grading/submitted/, names
matched tolerantly, modification times kept, nothing overwritten silently."""

import os
import time
import zipfile
from datetime import datetime, timezone

import pytest

from tiny_course import tiny_assignment, workbook
from workbook_grading.collect import collect, match_file
from workbook_grading.course import Course

NOTEBOOKS = {"neurons": "01_neurons/neurons", "backprop": "02_backprop/backprop"}


@pytest.mark.parametrize("path, expected", [
    ("alice_neurons.ipynb", "alice"),
    ("bob/neurons (1).ipynb", "bob"),
    ("carol - Neurons.IPYNB", "carol"),
    ("dave-neurons-2.ipynb", "dave"),
    ("erin neurons copy.ipynb", "erin"),
    ("frank_late_12345_67890_neurons-1.ipynb", "frank"),             # Canvas
    ("Gina Ruiz_4242_assignsubmission_file_/Neurons.ipynb", "gina_ruiz"),  # Moodle folder
    ("Hal Jones_77_assignsubmission_file_neurons.ipynb", "hal_jones"),     # Moodle flat
    ("ivan/01_neurons/neurons.ipynb", "ivan"),
    ("ref_01_neurons/neurons.ipynb", "ref_01_neurons"),   # an id holding the assignment's number
    ("ref_01/01_neurons/neurons.ipynb", "ref_01"),
    ("kim_2024_neurons.ipynb", "kim_2024"),              # no Canvas ids after it: kept
    ("lee_late_123456_789012_neurons.ipynb", "lee"),
])
def test_accepted_names(path, expected):
    assert match_file(path.split("/"), NOTEBOOKS) == (expected, "01_neurons", "neurons")


@pytest.mark.parametrize("path", ["neurons.ipynb", "alice_homework.ipynb", "alice_neurons.py",
                                  "neurons_alice.ipynb"])
def test_names_that_are_not_guessed(path):
    assert match_file(path.split("/"), NOTEBOOKS) is None


def test_the_other_notebook_of_the_course_is_told_apart():
    assert match_file(["zoe_Backprop (3).ipynb"], NOTEBOOKS) == ("zoe", "02_backprop", "backprop")


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    tiny_assignment(root)  # solutions/00_demo/demo.ipynb
    return root


def _write(path, text, mtime):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def _sub(root, student):
    return root / "grading" / "submitted" / student / "00_demo"


def test_folder_import_keeps_times_and_reports_unmatched(course, tmp_path):
    inbox = tmp_path / "inbox"
    t = datetime(2030, 3, 4, 5, 6, 7, tzinfo=timezone.utc).timestamp()
    _write(inbox / "alice_demo.ipynb", '{"a": 1}', t)
    _write(inbox / "bob" / "Demo (1).ipynb", '{"b": 1}', t + 60)
    _write(inbox / "mystery.ipynb", "{}", t)
    _write(inbox / "readme.txt", "hi", t)
    report = collect(inbox, course=Course.at(course))
    assert (_sub(course, "alice") / "demo.ipynb").read_text() == '{"a": 1}'
    assert (_sub(course, "bob") / "demo.ipynb").read_text() == '{"b": 1}'
    assert (_sub(course, "alice") / "timestamp.txt").read_text().strip() == \
        "2030-03-04 05:06:07.000000 UTC"
    assert report.unmatched == ["mystery.ipynb"]
    assert report.not_notebooks == ["readme.txt"]
    assert len(report.imported) == 2


def test_zip_import_newest_wins_and_is_reported(course, tmp_path):
    old = (2030, 1, 1, 10, 0, 0)
    new = (2030, 1, 2, 10, 0, 0)
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(zipfile.ZipInfo("carol - Demo.IPYNB", old), '{"v": "old"}')
        zf.writestr(zipfile.ZipInfo("carol_demo (1).ipynb", new), '{"v": "new"}')
        zf.writestr(zipfile.ZipInfo("__MACOSX/._carol_demo.ipynb", new), "junk")
    report = collect(archive, course=Course.at(course))
    assert (_sub(course, "carol") / "demo.ipynb").read_text() == '{"v": "new"}'
    assert report.duplicates and "carol - Demo.IPYNB" in report.duplicates[0]
    stamp = (_sub(course, "carol") / "timestamp.txt").read_text().strip()
    assert stamp == datetime.fromtimestamp(time.mktime(new + (0, 0, -1)), timezone.utc) \
        .strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    assert "older duplicates ignored" in report.describe()


def test_existing_submissions_are_never_overwritten_silently(course, tmp_path):
    t = 1_900_000_000
    _write(tmp_path / "first" / "dan_demo.ipynb", '{"v": 1}', t)
    collect(tmp_path / "first", course=Course.at(course))
    # the same file again: nothing to do
    assert collect(tmp_path / "first", course=Course.at(course)).unchanged
    # an older, different file: the existing newer one stays
    _write(tmp_path / "older" / "dan_demo.ipynb", '{"v": 0}', t - 3600)
    report = collect(tmp_path / "older", course=Course.at(course))
    assert report.kept_existing and not report.replaced
    assert (_sub(course, "dan") / "demo.ipynb").read_text() == '{"v": 1}'
    # a newer, different file replaces it, and says so
    _write(tmp_path / "newer" / "dan_demo.ipynb", '{"v": 2}', t + 3600)
    report = collect(tmp_path / "newer", course=Course.at(course))
    assert report.replaced
    assert (_sub(course, "dan") / "demo.ipynb").read_text() == '{"v": 2}'


def test_cli_collect_dry_run_and_errors(course, tmp_path):
    _write(tmp_path / "in" / "eve_demo.ipynb", "not json", 1_900_000_000)
    run = workbook("collect", str(tmp_path / "in"), "--dry-run", root=course)
    assert run.returncode == 0, run.stderr
    assert "imported 1" in run.stdout and "not valid notebook JSON" in run.stdout
    assert not (course / "grading" / "submitted").exists()
    run = workbook("collect", str(tmp_path / "nowhere"), root=course)
    assert run.returncode == 1 and "does not exist" in run.stderr
    run = workbook("collect", str(tmp_path / "in"), "--assignment", "99_nope", root=course)
    assert run.returncode == 1 and "no notebooks" in run.stderr
