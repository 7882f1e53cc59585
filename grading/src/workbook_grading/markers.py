"""nbgrader's region markers in a notebook's source, parsed in one place.

    ### BEGIN SOLUTION / ### END SOLUTION          an answer (code cells)
    ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS  tests a student never sees
    BEGIN MARK SCHEME / END MARK SCHEME            a written question's rubric (in its
                                                   read-only question cell, on lines such
                                                   as ``<small>BEGIN MARK SCHEME ...</small>``)

A marker is recognised anywhere on its line (nbgrader accepts ``### BEGIN SOLUTION`` and
``=== BEGIN MARK SCHEME ===`` alike); a region left open runs to the end of the cell.

Also here: whether a written answer (a markdown cell nbgrader grades by hand) holds an
answer at all (``unanswered``), which ``workbook autograde`` records and the report counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbook_grading.config import TEXT_STUB


@dataclass(frozen=True)
class Region:
    begin: str
    end: str

    def is_marker(self, line: str) -> bool:
        return self.begin in line or self.end in line


SOLUTION = Region("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = Region("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MARK_SCHEME = Region("BEGIN MARK SCHEME", "END MARK SCHEME")
REGIONS = (SOLUTION, HIDDEN_TESTS, MARK_SCHEME)
SECRET = (HIDDEN_TESTS, MARK_SCHEME)  # regions whose content no student may see
# Text that must never reach a student: every marker
ALL_MARKERS = tuple(m for r in REGIONS for m in (r.begin, r.end))


def answer(source: str) -> str:
    """A solution cell's code as a student who got it right would hand it in: the
    solution markers' lines removed, what is between them kept."""
    return "\n".join(line for line in source.splitlines() if not SOLUTION.is_marker(line))


def split(source: str) -> list[tuple[Region | None, str]]:
    """``source``'s lines, each with the region it lies in (None: outside every region);
    marker lines belong to their region."""
    out: list[tuple[Region | None, str]] = []
    inside: Region | None = None
    for line in source.splitlines():
        if inside is None:
            inside = next((r for r in REGIONS if r.begin in line), None)
            out.append((inside, line))
            if inside is None and any(r.end in line for r in REGIONS):
                out[-1] = (next(r for r in REGIONS if r.end in line), line)
        else:
            out.append((inside, line))
            if inside.end in line:
                inside = None
    return out


def strip(source: str, notes: dict[Region, str] | None = None) -> str:
    """``source`` without any region (markers included); where a region in ``notes`` was,
    its note, indented as the region's first line."""
    out: list[str] = []
    for region, line in split(source):
        if region is None:
            out.append(line)
        elif notes and region in notes and region.begin in line:
            out.append(line[:len(line) - len(line.lstrip())] + notes[region])
    return "\n".join(out)


def secret_lines(sources) -> set[str]:
    """Lines (stripped, 8 characters or more) inside the hidden-test and mark-scheme
    regions of ``sources`` that appear nowhere outside a region: what no page may show."""
    hidden, visible = set(), set()
    for source in sources:
        for region, line in split(source or ""):
            text = line.strip()
            if region is None:
                visible.add(text)
            elif region in SECRET and not region.is_marker(text) and len(text) >= 8:
                hidden.add(text)
    return hidden - visible


# What ``workbook autograde`` records as the comment of a written answer left unanswered
NO_ANSWER_PLACEHOLDER = "No answer: the placeholder text is unchanged."
NO_ANSWER_EMPTY = "No answer: the answer cell is empty."
NO_ANSWER_DELETED = "No answer: the answer cell was deleted (the grader put it back)."
# the note nbgrader puts in a deleted graded cell it adds back (OverwriteCells'
# missing_cell_notification, whose default is "This cell (id:...) was missing ...")
_RESTORED = re.compile(r"^\s*This cell \(id:[^)]*\) was missing from the submission\. "
                       r"It was added back by nbgrader\.\s*")


def _words(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def is_written_answer(cell) -> bool:
    """Whether ``cell`` (a notebook cell) is a written answer: nbgrader's manually graded
    answer, a markdown cell with ``solution: true, grade: true``."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "markdown" and bool(meta.get("solution")
                                                        and meta.get("grade"))


def unanswered(source: str | None, placeholder: str = TEXT_STUB) -> str | None:
    """Why a written answer's text is no answer (``NO_ANSWER_*``), or None when it holds
    one: empty, the release's placeholder (whitespace aside), or a deleted cell that
    nbgrader added back."""
    source = source or ""
    restored = _RESTORED.match(source)
    if restored and unanswered(source[restored.end():], placeholder):
        return NO_ANSWER_DELETED
    text = _words(source)
    if not text:
        return NO_ANSWER_EMPTY
    if text == _words(placeholder):
        return NO_ANSWER_PLACEHOLDER
    return None


def is_unanswered(source: str | None, placeholder: str = TEXT_STUB) -> bool:
    """Whether a written answer's text is empty or the release's placeholder."""
    return unanswered(source, placeholder) is not None
