"""Instructor tooling: release, autograde, feedback and reports (the `workbook` command)."""

import sys

# nbformat imports jsonschema, and jsonschema (4.26) imports rfc3987_syntax when it is
# installed (Jupyter's dependencies install it), which builds ~35 Earley parsers for the
# "iri" string formats: 3 s of CPU on a small machine, paid by the command and by every
# grading worker (python-jsonschema/jsonschema#1428). No nbformat or nbgrader schema uses
# those formats, so the grader's processes go without that checker. Importing this package
# before nbformat is what makes this work; it changes nothing in other processes.
if "rfc3987_syntax" not in sys.modules:
    sys.modules["rfc3987_syntax"] = None  # ``import`` raises ImportError: jsonschema skips it
