"""Instructor tooling: release, autograde, feedback and reports (the `workbook` command)."""

import sys


def skip_slow_iri_checker() -> None:
    """In the grading command's own processes (never on import): make the optional
    ``rfc3987_syntax`` unavailable before jsonschema is imported.

    jsonschema (4.26) imports it when it is installed (Jupyter's dependencies install it)
    and builds ~35 Earley parsers for the "iri" string formats: 2-3 s of CPU per process
    on a small machine, paid by the command and by every grading worker
    (python-jsonschema/jsonschema#1428). No nbformat or nbgrader schema uses those formats.
    A ``None`` entry in ``sys.modules`` is Python's documented way to make an import raise
    ImportError, which jsonschema handles by leaving that format unchecked."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)
