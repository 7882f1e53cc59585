"""Smoke tests of the shared plots: they draw what they are given and refuse what they cannot."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from workbook import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_attention_heatmap_draws_a_tensor_with_token_labels():
    weights = torch.softmax(torch.randn(3, 5), dim=-1)  # 3 queries, 5 keys
    ax = plots.attention_heatmap(None, weights, list("abcde"), ["x", "y", "z"], title="cross")
    image = ax.get_images()[0]
    np.testing.assert_allclose(image.get_array(), weights.numpy(), rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y", "z"]
    assert ax.get_title() == "cross"
    assert len(ax.figure.axes) == 2  # the heat map and its colour bar


def test_attention_heatmap_on_given_axes_without_labels_or_colorbar():
    fig, axes = plt.subplots(1, 2)
    ax = plots.attention_heatmap(axes[1], np.eye(4), colorbar=False)
    assert ax is axes[1] and len(fig.axes) == 2
    assert ax.get_images()[0].get_array().shape == (4, 4)


def test_attention_heatmap_rejects_bad_shapes_and_labels():
    with pytest.raises(ValueError, match="one \\(queries, keys\\) matrix"):
        plots.attention_heatmap(None, np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="pick one example"):
        plots.heatmap(None, np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="xlabels"):
        plots.attention_heatmap(None, np.ones((2, 3)), xlabels=["a", "b"])
    with pytest.raises(ValueError, match="ylabels"):
        plots.attention_heatmap(None, np.ones((2, 3)), ylabels=["a"])


def test_heatmap_keeps_negative_values_on_its_colour_scale():
    matrix = np.array([[-1.0, 0.5], [2.0, -3.0]])
    ax = plots.heatmap(None, matrix, title="signed", xlabel="c", ylabel="r")
    image = ax.get_images()[0]
    assert image.get_clim() == (-3.0, 2.0)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("c", "r")


def test_heatmap_reads_a_bfloat16_tensor():  # what autocast gives on a GPU
    weights = torch.softmax(torch.randn(2, 3), dim=-1).to(torch.bfloat16)
    ax = plots.attention_heatmap(None, weights)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), weights.double().numpy())


def test_setup_takes_the_figure_resolution_from_the_environment(monkeypatch):
    import matplotlib.pyplot as plt

    from workbook import plots

    monkeypatch.setenv(plots.DPI_ENV, "123")
    plots.setup()
    assert plt.rcParams["figure.dpi"] == 123

