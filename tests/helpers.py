"""What several test folders share (importable because pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# seconds spent executing each notebook, printed as "slowest notebooks" after the run
NOTEBOOK_SECONDS: dict[str, float] = {}


def record_notebook_time(label: str, seconds: float) -> None:
    NOTEBOOK_SECONDS[label] = NOTEBOOK_SECONDS.get(label, 0.0) + seconds


def assignments() -> list[str]:
    """Assignment ids with a source notebook: ``['01_neurons', '02_backprop', ...]``."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir()
                  if p.is_dir() and any(p.glob("*.ipynb")))
