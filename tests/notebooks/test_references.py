"""Every "notebook NN" a released notebook mentions exists in notebooks/ (issue 25).

Prose refers to other notebooks by number ("notebook 03's loop", "notebooks 04 and 08",
"notebooks 02–03"); a reference to a notebook that does not exist is a promise to the
student that nothing keeps.
"""

import re

import nbformat
import pytest

from helpers import ROOT

NUMBER = r"\d{2}(?!\d)"
JOINER = r"\s*(?:,|and|or|&|to|–|-)\s*"
# "notebook 03", "Notebook 02's", "notebooks 01 and 02", "notebooks 04, 05 or 08", "notebooks 02–03"
REFERENCE = re.compile(rf"\b[Nn]otebooks?\s+({NUMBER}(?:{JOINER}{NUMBER})*)")


def referenced_numbers(text: str) -> set[str]:
    """Two-digit notebook numbers that `text` refers to as "notebook(s) NN"."""
    return {n for group in REFERENCE.findall(text) for n in re.findall(NUMBER, group)}


def existing_numbers() -> set[str]:
    return {p.name[:2] for p in (ROOT / "notebooks").iterdir() if re.fullmatch(r"\d{2}_\w+", p.name)}


def released_notebooks():
    return sorted(p for p in (ROOT / "notebooks").glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def test_references_are_found_in_every_form_prose_uses():
    text = ("Notebook 02 trained it; notebook 03's loop; notebooks 01 and 02; notebooks 04, 05 or 08; "
            "notebooks 02–03; notebook 12 (not yet written); a notebook of 2023; notebook 123")
    assert referenced_numbers(text) == {"01", "02", "03", "04", "05", "08", "12"}


@pytest.mark.parametrize("path", released_notebooks(), ids=lambda p: p.parent.name)
def test_every_notebook_reference_points_to_a_released_notebook(path):
    existing = existing_numbers()
    missing = []
    for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for number in sorted(referenced_numbers(cell.source) - existing):
            missing.append(f"cell {index} ({cell.metadata.get('nbgrader', {}).get('grade_id', cell.cell_type)}): "
                           f"notebook {number}")
    assert not missing, (f"{path.relative_to(ROOT)} refers to notebooks that notebooks/ does not hold "
                         f"(it has {sorted(existing)}):\n  " + "\n  ".join(missing))
