"""bench/bench_grade.py's parts that need no long run: the course it builds holds correct
submissions of a real notebook, and the writer timed alone writes what it says (full
marks for every synthetic student, in a gradebook of its own)."""

import nbformat

from helpers import load_bench


def test_the_bench_course_holds_the_solutions_and_the_writer_records_full_marks(tmp_path):
    bench = load_bench("bench_grade")
    root = tmp_path / "grade"
    notebook = bench.make_course(root, "01_neurons", 2)
    subs = sorted((root / "grading" / "submitted").glob(f"*/01_neurons/{notebook}.ipynb"))
    assert len(subs) == 2
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
               for c in nbformat.read(subs[0], as_version=4).cells}
    assert "raise NotImplementedError" not in sources["ex-softmax"]
    assert "BEGIN SOLUTION" not in sources["ex-softmax"]
    ms, per_second = bench.writer_rate(root, "01_neurons", 5)
    assert ms > 0 and per_second > 0
    assert bench.full_marks(root / "grading" / "writer.db", "01_neurons") == 5
    assert bench.full_marks(root / "grading" / "released.db", "01_neurons") == 0  # its own copy
