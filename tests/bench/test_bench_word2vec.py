"""bench/bench_word2vec.py end to end on a slice of the corpus (seconds): every trainer runs
and the table compares it with gensim."""

from helpers import load_bench


def test_bench_word2vec_prints_the_table(capsys):
    bench = load_bench("bench_word2vec")
    assert bench.main(["--limit-tokens", "20000", "--epochs", "1", "--dim", "16",
                       "--glove-epochs", "1"]) == 0
    out = capsys.readouterr().out
    for row in ("| gensim (", "| ours, NumPy |", "| ours, PyTorch (", "| GloVe (1 epochs) |",
                "| random vectors |"):
        assert row in out, f"no row {row!r} in:\n{out}"
    assert "NumPy targets" in out
