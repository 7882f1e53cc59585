"""Import submissions from an LMS download (a folder or a .zip) into nbgrader's layout.

    grading/submitted/<student>/<assignment>/<notebook>.ipynb   (+ timestamp.txt)

Accepted names (case-insensitive, ``.ipynb`` in any case; the notebook part may carry an
LMS/OS copy suffix: ``neurons (1)``, ``neurons-2``, ``neurons copy``, ``Neurons``):

- ``<student>/<...>/<notebook>.ipynb``   a folder per student (first folder = student)
- ``<student>_<notebook>.ipynb``, ``<student> - <notebook>.ipynb``,
  ``<student>-<notebook>.ipynb``, ``<student> <notebook>.ipynb``  one flat folder
- Canvas: ``<login>[_late]_<userid>_<fileid>_<notebook>.ipynb`` (numeric ids and
  ``late`` are dropped from the student id)
- Moodle: ``<Full Name>_<id>_assignsubmission_file_/<notebook>.ipynb`` (folder per
  student) or ``<Full Name>_<id>_assignsubmission_file_<notebook>.ipynb``
- A single folder wrapping everything (``week1/...``) is ignored when it holds several
  entries; ``__MACOSX/``, ``.ipynb_checkpoints/`` and hidden files are skipped.

Student ids are lowercased, runs of spaces/punctuation become ``_`` (``Alice Smith`` ->
``alice_smith``). The notebook must be one of the assignment's notebooks
(``solutions/<assignment>/*.ipynb``); without ``--assignment`` it is found from the
notebook's name. The submission time is the file's modification time (the zip entry's
date for a .zip, read as local time), written to nbgrader's ``timestamp.txt`` in UTC.

An existing, different submission is never overwritten silently: the newer file (by
modification time) is kept and the report says which one. Identical files are left as
they are. Files that match no student or notebook are reported, never guessed.
"""

from __future__ import annotations

import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from workbook_grading.course import Course


class CollectError(RuntimeError):
    """The input cannot be read, or there is no assignment to match against."""


@dataclass
class Incoming:
    source: str           # path inside the folder or zip, for the report
    data: bytes
    mtime: float          # seconds since the epoch


@dataclass
class Match:
    student: str
    assignment: str
    notebook: str
    file: Incoming


@dataclass
class CollectReport:
    imported: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_existing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    not_notebooks: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"imported {len(self.imported)}, replaced {len(self.replaced)}, "
                 f"unchanged {len(self.unchanged)}, kept existing {len(self.kept_existing)}, "
                 f"unmatched {len(self.unmatched)}"]
        for title, items in [("replaced an older submission", self.replaced),
                             ("kept the existing newer submission", self.kept_existing),
                             ("older duplicates ignored", self.duplicates),
                             ("could not match (rename and collect again)", self.unmatched),
                             ("not valid notebook JSON (imported; graded as invalid-notebook)",
                              self.unreadable),
                             ("ignored (not notebooks)", self.not_notebooks)]:
            if items:
                lines.append(f"{title}:")
                lines.extend(f"  {item}" for item in items)
        return "\n".join(lines)


# ------------------------------------------------------------------------ reading

_SKIP_PARTS = ("__MACOSX", ".ipynb_checkpoints")


def read_files(path: Path) -> list[Incoming]:
    """Every regular file under ``path`` (a folder or a .zip), as relative POSIX paths."""
    path = Path(path)
    files = []
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file():
                files.append(Incoming(p.relative_to(path).as_posix(), p.read_bytes(),
                                      p.stat().st_mtime))
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                mtime = time.mktime(info.date_time + (0, 0, -1))  # zip dates are local time
                files.append(Incoming(info.filename, zf.read(info), mtime))
    elif path.exists():
        raise CollectError(f"{path} is neither a folder nor a .zip file")
    else:
        raise CollectError(f"{path} does not exist")
    return [f for f in files if not any(
        part in _SKIP_PARTS or part.startswith(".") for part in PurePosixPath(f.source).parts)]


def _strip_common_root(files: list[Incoming], assignments: set[str]) -> dict[str, list[str]]:
    """{source: path parts}, without one folder wrapping a folder per student.

    ``week1/alice/x.ipynb, week1/bob/x.ipynb`` lose ``week1``; ``bob/01_neurons/x.ipynb``
    (second level: assignment ids) and ``bob/x.ipynb`` keep everything.
    """
    parts = {f.source: list(PurePosixPath(f.source).parts) for f in files}
    if len(parts) > 1 and all(len(p) >= 3 for p in parts.values()) \
            and len({p[0] for p in parts.values()}) == 1:
        second = {p[1] for p in parts.values()}
        if len(second) > 1 and not second & assignments:
            return {src: p[1:] for src, p in parts.items()}
    return parts


# ----------------------------------------------------------------------- matching

def norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


_COPY_SUFFIX = re.compile(r"(\s*\(\d+\)|[\s_-]+copy(\s*\d+)?|-\d+|\s+\d+)$", re.IGNORECASE)


def _stem_variants(stem: str) -> list[str]:
    """``stem`` and the same without copy suffixes (``x (1) (2)`` -> ``x (1)`` -> ``x``)."""
    variants = [stem]
    while True:
        shorter = _COPY_SUFFIX.sub("", variants[-1])
        if shorter == variants[-1] or not shorter:
            return variants
        variants.append(shorter)


def clean_student(text: str) -> str:
    """The student id in an LMS name: lowercased, punctuation to ``_``; only the LMS's own
    additions are removed -- Moodle's ``_<id>_assignsubmission_file_`` and Canvas's
    trailing ``[_late]_<user id>_<submission id>`` (two ids of 4+ digits) -- so that an id
    such as ``ref_01_neurons`` is kept whole."""
    tokens = [t for t in norm(text).split("_") if t]
    if "assignsubmission" in tokens:  # Moodle: <name>_<id>_assignsubmission_file_
        tokens = tokens[:tokens.index("assignsubmission")]
        while tokens and tokens[-1].isdigit():
            tokens.pop()
        return "_".join(tokens)
    ids = 0
    while ids < len(tokens) - 1 and tokens[-1 - ids].isdigit() and len(tokens[-1 - ids]) >= 4:
        ids += 1
    if ids >= 2:  # Canvas: <name>[_late]_<user id>_<submission id>
        tokens = tokens[:-ids]
        if len(tokens) > 1 and tokens[-1] == "late":
            tokens.pop()
    return "_".join(tokens)


def match_file(parts: list[str], notebooks: dict[str, str]) -> tuple[str, str, str] | None:
    """(student, assignment, notebook) for a file at ``parts``, or None.

    ``notebooks`` maps a normalised notebook name to ``"assignment/notebook"``.
    """
    name = parts[-1]
    if not name.lower().endswith(".ipynb"):
        return None
    stem = name[:-len(".ipynb")]
    folder_student = clean_student(parts[0]) if len(parts) > 1 else ""
    for variant in _stem_variants(stem):
        nv = norm(variant)
        for key, target in sorted(notebooks.items(), key=lambda kv: -len(kv[0])):
            assignment, notebook = target.split("/")
            if nv == key and folder_student:
                return folder_student, assignment, notebook
            if nv.endswith("_" + key):
                student = clean_student(nv[:-len(key) - 1]) or folder_student
                if student:
                    return student, assignment, notebook
    return None


def known_notebooks(root: Path, assignment: str | None) -> dict[str, str]:
    """{normalised notebook name: "assignment/notebook"} from solutions/ (and the release)."""
    found: dict[str, set[str]] = {}
    for folder in ("solutions", "notebooks"):
        base = root / folder
        if not base.is_dir():
            continue
        for nb in base.glob("*/*.ipynb"):
            if assignment and nb.parent.name != assignment:
                continue
            found.setdefault(norm(nb.stem), set()).add(f"{nb.parent.name}/{nb.stem}")
    if not found:
        where = f"solutions/{assignment}" if assignment else "solutions/"
        raise CollectError(f"no notebooks to match against in {root / where}")
    ambiguous = {k: v for k, v in found.items() if len(v) > 1}
    if ambiguous:
        names = ", ".join(sorted(next(iter(v)).split("/")[1] for v in ambiguous.values()))
        raise CollectError(f"notebook name(s) {names} occur in several assignments; "
                           "pass --assignment")
    return {k: next(iter(v)) for k, v in found.items()}


# ---------------------------------------------------------------------- importing

def timestamp_text(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def _existing_mtime(dest: Path) -> float:
    from nbgrader.utils import parse_utc

    ts = dest.parent / "timestamp.txt"
    if ts.is_file() and ts.read_text().strip():
        try:
            return parse_utc(ts.read_text().strip()).replace(tzinfo=timezone.utc).timestamp()
        except Exception:
            pass
    return dest.stat().st_mtime


def collect(path: Path, *, course: Course | None = None, assignment: str | None = None,
            dry_run: bool = False) -> CollectReport:
    root = (course or Course.at()).root
    notebooks = known_notebooks(root, assignment)
    report = CollectReport()
    files = read_files(Path(path))
    parts = _strip_common_root(files, {t.split('/')[0] for t in notebooks.values()})

    best: dict[tuple[str, str, str], Match] = {}
    for f in files:
        if not f.source.lower().endswith(".ipynb"):
            report.not_notebooks.append(f.source)
            continue
        found = match_file(parts[f.source], notebooks)
        if found is None:
            report.unmatched.append(f.source)
            continue
        m = Match(*found, f)
        key = (m.student, m.assignment, m.notebook)
        if key in best:
            older, newer = sorted([best[key], m], key=lambda x: x.file.mtime)
            report.duplicates.append(f"{older.file.source} (older than {newer.file.source})")
            best[key] = newer
        else:
            best[key] = m

    submitted = root / "grading" / "submitted"
    for (student, assignment_id, notebook), m in sorted(best.items()):
        dest = submitted / student / assignment_id / f"{notebook}.ipynb"
        label = f"{m.file.source} -> {student}/{assignment_id}/{notebook}.ipynb"
        try:
            import nbformat

            nbformat.reads(m.file.data.decode("utf-8"), as_version=4)
        except Exception:
            report.unreadable.append(m.file.source)
        if dest.exists():
            if dest.read_bytes() == m.file.data:
                report.unchanged.append(label)
                continue
            existing = _existing_mtime(dest)
            if m.file.mtime <= existing:
                report.kept_existing.append(
                    f"{label}: existing file is newer ({timestamp_text(existing)} vs "
                    f"{timestamp_text(m.file.mtime)}); incoming ignored")
                continue
            report.replaced.append(f"{label}: replaces the submission of "
                                   f"{timestamp_text(existing)}")
        else:
            report.imported.append(label)
        report.matches.append(m)
        if dry_run:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".ipynb.tmp")
        tmp.write_bytes(m.file.data)
        os.utime(tmp, (m.file.mtime, m.file.mtime))
        os.replace(tmp, dest)
        # the submission's time: its newest notebook
        newest = max(p.stat().st_mtime for p in dest.parent.glob("*.ipynb"))
        (dest.parent / "timestamp.txt").write_text(timestamp_text(newest) + "\n")
    return report
