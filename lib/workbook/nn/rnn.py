"""Recurrent cells and layers built from tensor operations: RNN, LSTM, GRU.

Drop-in twins of ``torch.nn.{RNN,LSTM,GRU}Cell`` and ``torch.nn.{RNN,LSTM,GRU}``: the same
constructor arguments, the same parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``,
...), the same call signature and return values, so ``copy_from_torch`` / ``copy_to_torch``
are a ``load_state_dict`` and the outputs agree with torch's to rounding. Written for
reading, not speed: one Python loop over time (torch's own layers call cuDNN on a GPU).

Shapes: T time steps, B batch, D input size, H hidden size, L layers, nd directions (1, or
2 when bidirectional). Layer input (T, B, D), or (B, T, D) with ``batch_first=True``;
states (L * nd, B, H), ordered layer by layer, forward direction first.

Gate order, torch's (the rows of ``weight_ih`` / ``weight_hh``, in blocks of H):
  * LSTM: (i, f, g, o) -- input gate, forget gate, candidate g (the lecture's c-tilde),
    output gate. c' = f * c + i * g, h' = o * tanh(c'). The lecture lists them f, i, o.
  * GRU:  (r, z, n) -- reset gate, update gate, candidate n (the lecture's h-tilde).
    h' = (1 - z) * n + z * h: in torch's convention z is the share of the OLD state that
    is kept. Many texts write h' = (1 - z) * h + z * h-tilde, which is the same cell with
    z renamed 1 - z. The reset gate multiplies W_hn h + b_hn (after the product), as in
    cuDNN and torch, not h before it.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

__all__ = [
    "rnn_cell", "lstm_cell", "gru_cell",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "copy_from_torch", "copy_to_torch", "numpy_weights", "output_shapes",
]

GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}  # blocks of H rows per weight


# ----------------------------------------------------------------------------- one step
# Each step takes gi = x W_ih^T + b_ih already computed: a layer computes it for every time
# step in one matrix product, since it does not depend on the previous state.

def _rnn_step(gi, h, w_hh, b_hh, nonlinearity="tanh"):
    a = gi + F.linear(h, w_hh, b_hh)  # (B, H)
    return torch.tanh(a) if nonlinearity == "tanh" else torch.relu(a)


def _lstm_step(gi, h, c, w_hh, b_hh):
    a = gi + F.linear(h, w_hh, b_hh)  # (B, 4H): the four gates in one product
    i, f, g, o = a.chunk(4, dim=-1)  # torch's order
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # forget some of the old memory, write some of the candidate
    return o * torch.tanh(c), c


def _gru_step(gi, h, w_hh, b_hh):
    gh = F.linear(h, w_hh, b_hh)  # (B, 3H)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)  # the reset gate scales the recurrent part only
    return (1 - z) * n + z * h


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh). x (B, D), h (B, H) -> (B, H)."""
    return _rnn_step(F.linear(x, w_ih, b_ih), h, w_hh, b_hh, nonlinearity)


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step. x (B, D), state (h, c) each (B, H), w_ih (4H, D), w_hh (4H, H)
    -> (h', c'). Gates in torch's order (i, f, g, o)."""
    h, c = state
    return _lstm_step(F.linear(x, w_ih, b_ih), h, c, w_hh, b_hh)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step. x (B, D), h (B, H), w_ih (3H, D), w_hh (3H, H) -> h' (B, H).
    Gates in torch's order (r, z, n); h' = (1 - z) * n + z * h."""
    return _gru_step(F.linear(x, w_ih, b_ih), h, w_hh, b_hh)


# ----------------------------------------------------------------------------- cells

class _Cell(nn.Module):
    """Parameters named and initialised as torch's cells: U(-1/sqrt(H), 1/sqrt(H))."""

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        G = GATES[self.mode] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(G, input_size))
        self.weight_hh = nn.Parameter(torch.empty(G, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(G)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G)) if bias else None
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _zeros(self, x):
        return x.new_zeros(x.shape[0], self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh). forward(x (B, D), h (B, H) or None)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        return rnn_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                        self.nonlinearity)


class LSTMCell(_Cell):
    """forward(x (B, D), (h, c) each (B, H), or None for zeros) -> (h', c')."""

    mode = "LSTM"

    def forward(self, x, state=None):
        state = (self._zeros(x), self._zeros(x)) if state is None else state
        return lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


class GRUCell(_Cell):
    """forward(x (B, D), h (B, H) or None for zeros) -> h' (B, H)."""

    mode = "GRU"

    def forward(self, x, h=None):
        h = self._zeros(x) if h is None else h
        return gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)


# ----------------------------------------------------------------------------- layers

class _Recurrent(nn.Module):
    """A stack of recurrent layers, optionally bidirectional, as ``torch.nn.RNN/LSTM/GRU``.

    forward(input, hx=None, lengths=None) -> (output, h_n), or (output, (h_n, c_n)) for LSTM.
      input: (T, B, D), (B, T, D) if batch_first, (T, D) unbatched, or a PackedSequence.
      hx: initial state(s) (L * nd, B, H); zeros if None.
      lengths: (B,) valid lengths of a padded batch (a PackedSequence brings its own): a
        sequence's state stops changing after its last step, and its outputs there are 0.
      output: (T, B, nd * H) -- each step's top-layer state, directions concatenated
        (forward first); a PackedSequence when the input was one.
      h_n (and c_n): (L * nd, B, H), each layer's and direction's final state -- for the
        reverse direction the state after reading the sequence back to its first step.
    """

    mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        self.bidirectional = bidirectional
        self.num_directions = 2 if bidirectional else 1
        G = GATES[self.mode] * hidden_size
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            # layer 0 reads the input; the others read both directions of the layer below
            d_in = input_size if layer == 0 else hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                shapes = {"weight_ih": (G, d_in), "weight_hh": (G, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(G,), bias_hh=(G,))
                for name, shape in shapes.items():
                    p = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                    self.register_parameter(name + suffix, p)

    def _suffixes(self, layer: int) -> list[str]:
        return [f"_l{layer}", f"_l{layer}_reverse"][:self.num_directions]

    def _weights(self, suffix: str):
        get = lambda name: getattr(self, name + suffix, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _step(self, gi, state, w_hh, b_hh):
        """One time step for one direction; state is a tuple of (B, H) tensors."""
        if self.mode == "LSTM":
            return _lstm_step(gi, *state, w_hh, b_hh)
        if self.mode == "GRU":
            return (_gru_step(gi, state[0], w_hh, b_hh),)
        return (_rnn_step(gi, state[0], w_hh, b_hh,
                          "tanh" if self.mode == "RNN_TANH" else "relu"),)

    def _direction(self, x, state, suffix, reverse, mask):
        """Run one layer in one direction. x (T, B, D_in) -> outputs (T, B, H), final state."""
        w_ih, w_hh, b_ih, b_hh = self._weights(suffix)
        gi = F.linear(x, w_ih, b_ih)  # (T, B, G): every step's input projection at once
        T = x.shape[0]
        outputs = [None] * T
        for t in (reversed(range(T)) if reverse else range(T)):
            new = self._step(gi[t], state, w_hh, b_hh)
            if mask is None:
                state = new
                outputs[t] = new[0]
            else:  # past a sequence's end: keep its state, output 0
                m = mask[t].unsqueeze(-1)  # (B, 1)
                state = tuple(torch.where(m, n, s) for n, s in zip(new, state))
                outputs[t] = new[0] * m
        return torch.stack(outputs), state

    def forward(self, input, hx=None, lengths=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            x, lengths = pad_packed_sequence(input)  # (T, B, D), in the batch's own order
        else:
            x = input.transpose(0, 1) if self.batch_first and input.dim() == 3 else input
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)  # (T, 1, D)
        T, B, _ = x.shape
        n_states = 2 if self.mode == "LSTM" else 1
        shape = (self.num_layers * self.num_directions, B, self.hidden_size)
        if hx is None:
            hx = tuple(x.new_zeros(shape) for _ in range(n_states))
        else:
            hx = tuple(hx) if self.mode == "LSTM" else (hx,)
            if unbatched:
                hx = tuple(s.unsqueeze(1) for s in hx)
        mask = None
        if lengths is not None:
            lengths = torch.as_tensor(lengths, device=x.device)
            mask = torch.arange(T, device=x.device).unsqueeze(1) < lengths.unsqueeze(0)  # (T, B)

        finals = []  # one state tuple per (layer, direction), in h_n's order
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.num_directions + direction
                out, state = self._direction(layer_input, tuple(s[k] for s in hx), suffix,
                                             reverse=direction == 1, mask=mask)
                outs.append(out)
                finals.append(state)
            layer_input = torch.cat(outs, dim=-1)  # (T, B, nd * H)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)
        output = layer_input
        h_n = tuple(torch.stack([f[j] for f in finals]) for j in range(n_states))  # (L*nd, B, H)

        if packed:
            output = _repack(output, input)
        elif unbatched:
            output, h_n = output.squeeze(1), tuple(s.squeeze(1) for s in h_n)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (h_n if self.mode == "LSTM" else h_n[0])

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, batch_first={self.batch_first}, dropout={self.dropout}, "
                f"bidirectional={self.bidirectional}")


def _repack(padded: torch.Tensor, like: PackedSequence) -> PackedSequence:
    """Pack padded (T, B, F) outputs in the layout of the PackedSequence ``like``."""
    if like.sorted_indices is not None:
        padded = padded.index_select(1, like.sorted_indices)  # longest sequence first
    data = torch.cat([padded[t, :n] for t, n in enumerate(like.batch_sizes.tolist())])
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class RNN(_Recurrent):
    """A stack of tanh (or ReLU) RNN layers, as ``torch.nn.RNN``; see ``_Recurrent``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", **kwargs):
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, **kwargs)


class LSTM(_Recurrent):
    """A stack of LSTM layers, as ``torch.nn.LSTM``; states are (h, c). See ``_Recurrent``."""

    mode = "LSTM"


class GRU(_Recurrent):
    """A stack of GRU layers, as ``torch.nn.GRU``; see ``_Recurrent``."""

    mode = "GRU"


# ----------------------------------------------------------------------------- helpers

def _check_twins(ours: nn.Module, theirs: nn.Module) -> None:
    mine, other = dict(ours.named_parameters()), dict(theirs.named_parameters())
    if mine.keys() != other.keys() or any(mine[k].shape != other[k].shape for k in mine):
        raise ValueError(f"{type(ours).__name__} and {type(theirs).__name__} differ in "
                         f"configuration: parameters {sorted(mine)} vs {sorted(other)}")


@torch.no_grad()
def copy_from_torch(ours: nn.Module, theirs: nn.Module) -> nn.Module:
    """Copy the weights of a ``torch.nn`` cell or layer into our twin (same configuration)."""
    _check_twins(ours, theirs)
    ours.load_state_dict(theirs.state_dict())
    return ours


@torch.no_grad()
def copy_to_torch(ours: nn.Module, theirs: nn.Module) -> nn.Module:
    """Copy our cell's or layer's weights into its ``torch.nn`` twin."""
    _check_twins(ours, theirs)
    theirs.load_state_dict(ours.state_dict())
    return theirs


@torch.no_grad()
def numpy_weights(module: nn.Module, suffix: str = "_l0"):
    """(Wx (D, G*H), Wh (H, G*H), b (G*H,)) as float64 NumPy arrays, in the layout of
    ``workbook.numpy_nn.rnn``, from a torch or workbook cell (suffix ignored) or layer.
    The two biases are summed: only their sum matters."""
    cell = hasattr(module, "weight_ih")
    get = lambda name: getattr(module, name if cell else name + suffix, None)  # noqa: E731
    w_ih, w_hh, b_ih, b_hh = (get(n) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    b = (b_ih + b_hh) if b_ih is not None else torch.zeros(w_ih.shape[0])
    return tuple(t.detach().double().cpu().numpy() for t in (w_ih.T, w_hh.T, b))


def output_shapes(T: int, B: int, hidden_size: int, num_layers: int = 1,
                  bidirectional: bool = False, batch_first: bool = False):
    """(output shape, h_n shape) of a recurrent layer on a batch of B sequences of T steps."""
    nd = 2 if bidirectional else 1
    out = (B, T, nd * hidden_size) if batch_first else (T, B, nd * hidden_size)
    return out, (num_layers * nd, B, hidden_size)
