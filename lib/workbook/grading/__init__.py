"""Instructor tooling: release, autograde, feedback and reports (the `workbook` command)."""
