"""bench/gpu_check.py's parts that run anywhere: the refusal without a GPU, and the
notebook runner (each cell's output as it finishes; the executed notebook kept after an
error)."""

import nbformat
import pytest
import torch

from helpers import load_bench


@pytest.fixture(scope="module")
def gpu_check():
    return load_bench("gpu_check")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_without_a_gpu_it_says_so_and_exits_2(gpu_check, capsys):
    assert gpu_check.main(["--skip", "tests"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().out


def test_notebook_runner_prints_outputs_and_keeps_the_executed_part(gpu_check, tmp_path, capfd):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('first cell ran')"),
        nbformat.v4.new_code_cell("raise ValueError('planted')"),
        nbformat.v4.new_code_cell("print('never')"),
    ])
    source, target = tmp_path / "demo.ipynb", tmp_path / "out" / "demo.full.ipynb"
    target.parent.mkdir()
    nbformat.write(nb, source)
    assert gpu_check.execute_notebook(source, target) == 1
    out = capfd.readouterr().out
    assert "[cell 0] first cell ran" in out and "ValueError: planted" in out
    assert "never" not in out
    executed = nbformat.read(target, as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "first cell ran\n"
    assert executed.cells[2].outputs == []


def test_every_torch_notebook_it_runs_exists(gpu_check):
    root = gpu_check.ROOT / "solutions"
    assert "07_seq2seq_attention/seq2seq_attention" in gpu_check.NOTEBOOKS
    missing = [name for name in gpu_check.NOTEBOOKS if not (root / f"{name}.ipynb").is_file()]
    assert not missing, f"gpu_check.NOTEBOOKS names notebooks that do not exist: {missing}"
