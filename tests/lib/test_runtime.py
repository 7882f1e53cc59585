"""Profiles, seeding and device selection."""

import numpy as np
import pytest
import torch

from workbook import runtime


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("WORKBOOK_PROFILE", "full")
    assert runtime.profile() == "full" and runtime.pick(ci=1, full=2) == 2
    monkeypatch.setenv("WORKBOOK_PROFILE", "CI")
    assert runtime.is_ci() and runtime.pick(ci=1, full=2) == 1
    monkeypatch.delenv("WORKBOOK_PROFILE")
    assert runtime.profile() == "full"


def test_unknown_profile_says_what_to_do(monkeypatch):
    monkeypatch.setenv("WORKBOOK_PROFILE", "fast")
    with pytest.raises(ValueError, match="use one of ci, full"):
        runtime.profile()


def test_seed_everything_makes_numpy_and_torch_repeat():
    a = runtime.seed_everything(3)
    first = (a.normal(size=3), np.random.rand(2), torch.rand(2))
    b = runtime.seed_everything(3)
    second = (b.normal(size=3), np.random.rand(2), torch.rand(2))
    for x, y in zip(first, second):
        assert np.array_equal(np.asarray(x), np.asarray(y))


def test_device_falls_back_to_cpu_and_can_be_forced(monkeypatch):
    monkeypatch.setenv("WORKBOOK_DEVICE", "cpu")
    assert runtime.get_device().type == "cpu"
    assert runtime.get_device("cpu") == torch.device("cpu")
    assert runtime.autocast_dtype(torch.device("cpu")) is None


def test_autocast_is_bf16_only_where_autocast_dtype_says(monkeypatch):
    x = torch.ones(2, 2)
    with runtime.autocast(torch.device("cpu")):  # CPU: float32 stays float32
        assert (x @ x).dtype == torch.float32
    # A device that supports bf16 (faked: CPU autocast also exists) gets a bf16 matmul,
    # unless the caller turns autocast off.
    monkeypatch.setattr(runtime, "autocast_dtype", lambda device: torch.bfloat16)
    with runtime.autocast(torch.device("cpu")):
        assert (x @ x).dtype == torch.bfloat16
    with runtime.autocast(torch.device("cpu"), enabled=False):
        assert (x @ x).dtype == torch.float32


def test_describe_is_one_line_naming_profile_and_device():
    line = runtime.describe()
    assert "\n" not in line and "profile=ci" in line and "device=" in line


def test_set_threads_caps_torch_only_under_ci(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("WORKBOOK_PROFILE", "full")
        assert runtime.set_threads() is None and torch.get_num_threads() == before
        monkeypatch.setenv("WORKBOOK_PROFILE", "ci")
        assert runtime.set_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
