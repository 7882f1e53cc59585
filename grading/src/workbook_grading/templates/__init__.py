"""The HTML pages (feedback, report) as Jinja templates, autoescaped."""

from __future__ import annotations

import functools
from pathlib import Path

HERE = Path(__file__).parent


@functools.lru_cache(maxsize=None)
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True,
                              lstrip_blocks=True)


def render(name: str, **context) -> str:
    """Template ``name`` (in this folder) rendered with ``context``."""
    return _environment().get_template(name).render(**context)
