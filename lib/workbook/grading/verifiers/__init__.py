"""Per-notebook verifiers (verify.py): one module per notebook, named after it, holding
``ASSIGNMENT`` and ``VERIFIER``. Grader side only: nothing here runs in a student's
process, and the inputs come from a seed the student never sees."""
