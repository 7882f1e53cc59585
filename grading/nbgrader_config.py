# nbgrader reads this file only from the folder it runs in: run nbgrader (and
# `nbgrader formgrader`) from grading/, or use the `workbook` command from anywhere.
import os

from workbook_grading.config import course_config

c = get_config()  # noqa: F821 (injected by traitlets)
c.merge(course_config(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
