"""bench/bench_grade.py's parts that need no long run: the writer timed alone writes what
it says (full marks for every synthetic student, in a gradebook of its own) and the steady
rate is read from the times the writer recorded."""

from helpers import load_bench


def test_writer_rate_records_every_result_in_full(tmp_path):
    bench = load_bench("bench_grade")
    root = tmp_path / "grade"
    root.mkdir()
    bench.make_course(root)
    bench.release_and_submit(root, 2)
    ms, per_second = bench.writer_rate(root, 5, batch=2)
    assert ms > 0 and per_second > 0
    db = root / "grading" / "writer2.db"
    assert bench.full_marks(db) == 5
    assert bench.full_marks(root / "grading" / "released.db") == 0  # its own copy
    # five results written at nearly the same time: a steady rate, and a small one
    assert 0 <= bench.steady_rate(db, 1) < 1.0
