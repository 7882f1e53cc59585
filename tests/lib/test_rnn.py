"""workbook.nn.rnn against torch.nn in float64: cells and layers, every combination of
layers, direction and batch_first, batch 1, length 1, padded and packed batches, gradients."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from workbook.checks import assert_close
from workbook.nn import rnn

f64 = torch.float64
TOL = dict(rtol=1e-6, atol=1e-6)  # the contract: equal to torch's to 1e-6 in float64
D, H = 3, 5

CELLS = [(rnn.RNNCell, torch.nn.RNNCell), (rnn.LSTMCell, torch.nn.LSTMCell),
         (rnn.GRUCell, torch.nn.GRUCell)]
LAYERS = [(rnn.RNN, torch.nn.RNN), (rnn.LSTM, torch.nn.LSTM), (rnn.GRU, torch.nn.GRU)]


def _states(s):
    return s if isinstance(s, tuple) else (s,)


def _twins(ours_cls, torch_cls, *args, **kwargs):
    theirs = torch_cls(*args, **kwargs).double()
    ours = rnn.copy_from_torch(ours_cls(*args, **kwargs).double(), theirs)
    return ours, theirs


@pytest.mark.parametrize("ours_cls,torch_cls", CELLS, ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("B", [1, 4])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(ours_cls, torch_cls, B, bias):
    ours, theirs = _twins(ours_cls, torch_cls, D, H, bias=bias)
    x = torch.randn(B, D, dtype=f64, requires_grad=True)
    lstm = ours_cls is rnn.LSTMCell
    state = ((torch.randn(B, H, dtype=f64), torch.randn(B, H, dtype=f64)) if lstm
             else torch.randn(B, H, dtype=f64))
    a, b = _states(ours(x, state)), _states(theirs(x, state))
    for k, (u, v) in enumerate(zip(a, b)):
        assert_close(u, v, name=f"state {k}", **TOL)
    # from zeros when no state is given
    for u, v in zip(_states(ours(x)), _states(theirs(x))):
        assert_close(u, v, name="state from zeros", **TOL)
    # gradients: the same loss through both
    gx = torch.autograd.grad(sum(s.sum() for s in a), [x, *ours.parameters()])
    gt = torch.autograd.grad(sum(s.sum() for s in b), [x, *theirs.parameters()])
    for u, v in zip(gx, gt):
        assert_close(u, v, name="gradient", **TOL)


@pytest.mark.parametrize("ours_cls,torch_cls", LAYERS, ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("num_layers,bidirectional,batch_first",
                         list(itertools.product([1, 2, 3], [False, True], [False, True])))
def test_layer_matches_torch(ours_cls, torch_cls, num_layers, bidirectional, batch_first):
    ours, theirs = _twins(ours_cls, torch_cls, D, H, num_layers=num_layers,
                          bidirectional=bidirectional, batch_first=batch_first)
    nd = 2 if bidirectional else 1
    for B, T in [(4, 6), (1, 5), (3, 1), (1, 1)]:  # batch 1, length 1, both
        x = torch.randn(*((B, T) if batch_first else (T, B)), D, dtype=f64)
        shape = (num_layers * nd, B, H)
        hx = torch.randn(shape, dtype=f64)
        hx = (hx, torch.randn(shape, dtype=f64)) if ours_cls is rnn.LSTM else hx
        for init in (None, hx):
            out, s = ours(x, init)
            want, ws = theirs(x, init)
            assert_close(out, want, name=f"output B={B} T={T}", **TOL)
            for u, v in zip(_states(s), _states(ws)):
                assert_close(u, v, name=f"final state B={B} T={T}", **TOL)
            assert (tuple(out.shape), tuple(_states(s)[0].shape)) == rnn.output_shapes(
                T, B, H, num_layers, bidirectional, batch_first)


@pytest.mark.parametrize("ours_cls,torch_cls", LAYERS, ids=["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_batch_matches_torch(ours_cls, torch_cls, bidirectional, enforce_sorted):
    ours, theirs = _twins(ours_cls, torch_cls, D, H, num_layers=2, bidirectional=bidirectional,
                          batch_first=True)
    lengths = torch.tensor([6, 4, 4, 1]) if enforce_sorted else torch.tensor([2, 6, 1, 4])
    x = torch.randn(4, 6, D, dtype=f64, requires_grad=True)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    out, s = ours(packed)
    want, ws = theirs(packed)
    assert_close(out.data, want.data, name="packed output", **TOL)
    assert torch.equal(out.batch_sizes, want.batch_sizes)
    for u, v in zip(_states(s), _states(ws)):
        assert_close(u, v, name="final state of a packed batch", **TOL)
    # padded input with lengths= gives the same as the packed one
    padded, s2 = ours(x, lengths=lengths)
    assert_close(padded, pad_packed_sequence(want, batch_first=True, total_length=6)[0],
                 name="padded output with lengths", **TOL)
    for u, v in zip(_states(s2), _states(ws)):
        assert_close(u, v, name="final state with lengths", **TOL)
    # gradients through the packed batch
    g1, = torch.autograd.grad(out.data.sum() + _states(s)[0].sum(), x, retain_graph=True)
    g2, = torch.autograd.grad(want.data.sum() + _states(ws)[0].sum(), x)
    assert_close(g1, g2, name="gradient w.r.t. the packed input", **TOL)


@pytest.mark.parametrize("ours_cls,torch_cls", LAYERS, ids=["rnn", "lstm", "gru"])
def test_unbatched_input_and_copy_to_torch(ours_cls, torch_cls):
    ours = ours_cls(D, H, num_layers=2).double()
    theirs = rnn.copy_to_torch(ours, torch_cls(D, H, num_layers=2).double())
    x = torch.randn(7, D, dtype=f64)  # (T, D): no batch axis
    out, s = ours(x)
    want, ws = theirs(x)
    assert out.shape == (7, H)
    assert_close(out, want, name="unbatched output", **TOL)
    for u, v in zip(_states(s), _states(ws)):
        assert_close(u, v, name="unbatched final state", **TOL)


def test_layer_gradients_match_torch():
    ours, theirs = _twins(rnn.LSTM, torch.nn.LSTM, D, H, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, D, dtype=f64)
    (o1, _), (o2, _) = ours(x), theirs(x)
    g1 = torch.autograd.grad(o1.pow(2).sum(), list(ours.parameters()))
    g2 = torch.autograd.grad(o2.pow(2).sum(), list(theirs.parameters()))
    names = [n for n, _ in ours.named_parameters()]
    for name, u, v in zip(names, g1, g2):
        assert_close(u, v, name=f"gradient of {name}", **TOL)


def test_copy_refuses_a_different_configuration():
    with pytest.raises(ValueError, match="differ in configuration"):
        rnn.copy_from_torch(rnn.LSTM(D, H), torch.nn.LSTM(D, H, bidirectional=True))
    with pytest.raises(ValueError, match="differ in configuration"):
        rnn.copy_from_torch(rnn.GRU(D, H), torch.nn.LSTM(D, H))


def test_lstm_gate_order_is_torchs():
    """Only the forget gate's block open (the rest shut): the cell state is kept exactly."""
    cell = rnn.LSTMCell(1, 1).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        cell.bias_ih.copy_(torch.tensor([-50.0, 50.0, 0.0, 50.0]))  # i shut, f open, g, o open
    h, c = cell(torch.zeros(1, 1, dtype=f64), (torch.zeros(1, 1, dtype=f64),
                                               torch.full((1, 1), 0.7, dtype=f64)))
    assert_close(c, [[0.7]], name="c with only the forget gate open", rtol=1e-12)
    assert_close(h, torch.tanh(torch.tensor([[0.7]])), name="h = o * tanh(c)", rtol=1e-6)


def test_dropout_between_layers_only_in_training():
    layer = rnn.LSTM(D, H, num_layers=2, dropout=0.5).double()
    x = torch.randn(4, 2, D, dtype=f64)
    layer.eval()
    a, _ = layer(x)
    b, _ = layer(x)
    assert torch.equal(a, b)
    layer.train()
    c, _ = layer(x)
    assert not torch.allclose(a, c)


def test_numpy_weights_layout():
    cell = torch.nn.LSTMCell(D, H).double()
    Wx, Wh, b = rnn.numpy_weights(cell)
    assert Wx.shape == (D, 4 * H) and Wh.shape == (H, 4 * H) and b.shape == (4 * H,)
    assert_close(b, cell.bias_ih + cell.bias_hh, name="summed bias", rtol=1e-12)
