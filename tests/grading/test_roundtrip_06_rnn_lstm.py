"""Grading round trip of 06_rnn_lstm: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong

# --- skeletons shared by the wrong answers ----------------------------------------------------
SIGMOID = "def sigmoid(z):\n    return 0.5 * (np.tanh(0.5 * z) + 1.0)\n\n"


def rnn_step_code(pre="x @ Wx + prev_h @ Wh + b", act="np.tanh"):
    return ("def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
            f"    next_h = {act}({pre})\n"
            "    return next_h, (x, prev_h, Wx, Wh, next_h)\n")


def rnn_step_backward_code(da="dnext_h * (1 - next_h ** 2)", dprev="da @ Wh.T", db="da.sum(axis=0)"):
    return ("def rnn_step_backward(dnext_h, cache):\n"
            "    x, prev_h, Wx, Wh, next_h = cache\n"
            f"    da = {da}\n"
            f"    return da @ Wx.T, {dprev}, x.T @ da, prev_h.T @ da, {db}\n")


def rnn_backward_code(step_input="dh[:, t] + dprev_h", accumulate=True):
    acc = ("        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb\n" if accumulate
           else "        dWx, dWh, db = gWx, gWh, gb\n")
    return ("def rnn_backward(dh, cache):\n"
            "    N, T, H = dh.shape\n"
            "    dxs = [None] * T\n"
            "    dprev_h = np.zeros((N, H))\n"
            "    dWx = dWh = db = 0\n"
            "    for t in reversed(range(T)):\n"
            f"        dxs[t], dprev_h, gWx, gWh, gb = rnn_step_backward({step_input}, cache[t])\n"
            + acc +
            "    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db\n")


def lstm_code(order="i, f, g, o", g_act="np.tanh", c="f * prev_c + i * g", h="o * np.tanh(next_c)"):
    return (SIGMOID +
            "def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):\n"
            "    H = prev_h.shape[1]\n"
            "    a = x @ Wx + prev_h @ Wh + b\n"
            f"    {order} = np.split(a, 4, axis=1)\n"
            f"    i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), {g_act}(g)\n"
            f"    next_c = {c}\n"
            f"    next_h = {h}\n"
            "    return next_h, next_c\n")


def gru_code(n="torch.tanh(i_n + r * h_n)", out="(1 - z) * n + z * h", gate="torch.sigmoid"):
    return ("def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n"
            "    i_r, i_z, i_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)\n"
            "    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)\n"
            f"    r = {gate}(i_r + h_r)\n"
            f"    z = {gate}(i_z + h_z)\n"
            f"    n = {n}\n"
            f"    return {out}\n")


def bidirectional_code(start_bw="None", place="backward[t] = h_bw", final_bw="h_bw"):
    return ("def bidirectional(cell_fw, cell_bw, x):\n"
            "    T = x.shape[0]\n"
            "    h_fw = None\n"
            "    forward, backward = [], [None] * T\n"
            "    for t in range(T):\n"
            "        h_fw = cell_fw(x[t], h_fw)\n"
            "        forward.append(h_fw)\n"
            f"    h_bw = {start_bw}\n"
            "    for k, t in enumerate(reversed(range(T))):\n"
            "        h_bw = cell_bw(x[t], h_bw)\n"
            f"        {place}\n"
            "    out = torch.cat([torch.stack(forward), torch.stack(backward)], dim=-1)\n"
            f"    return out, torch.stack([h_fw, {final_bw}])\n")


def generate_code(logits_scaled="last / temperature", feed="model.run(nxt, state)"):
    return ("def generate(model, idx, max_new_tokens, temperature=1.0, generator=None):\n"
            "    with torch.no_grad():\n"
            "        logits, state = model.run(idx)\n"
            "        out = [idx]\n"
            "        for _ in range(max_new_tokens):\n"
            "            last = logits[:, -1]\n"
            "            if temperature == 0:\n"
            "                nxt = last.argmax(dim=-1, keepdim=True)\n"
            "            else:\n"
            f"                probs = torch.softmax({logits_scaled}, dim=-1)\n"
            "                nxt = torch.multinomial(probs, 1, generator=generator)\n"
            "            out.append(nxt)\n"
            f"            logits, state = {feed}\n"
            "    return torch.cat(out, dim=1)\n")


class TestRnnLstmRoundTrip(RoundTrip):
    assignment = "06_rnn_lstm"

    WRONG = [
        Wrong("ex-unroll",
              "def unroll(step, h0, xs):\n    return [step(h0, x) for x in xs]\n",
              fails=["test-unroll"], why="forgets the previous hidden state: every step starts from h0"),
        Wrong("ex-unroll",
              "def unroll(step, h0, xs):\n    states = [h0]\n"
              "    for x in xs:\n        states.append(step(states[-1], x))\n    return states\n",
              fails=["test-unroll"], why="h0 included in the states"),
        Wrong("ex-rnn-step", rnn_step_code(pre="x @ Wx + b"),
              fails=["test-rnn-step"], why="forgets the previous hidden state"),
        Wrong("ex-rnn-step", rnn_step_code(act="(lambda a: 1 / (1 + np.exp(-a)))"),
              fails=["test-rnn-step"], why="sigmoid instead of tanh"),
        Wrong("ex-rnn-step", rnn_step_code(pre="x @ Wx + prev_h @ Wh.T + b"),
              fails=["test-rnn-step"], why="the recurrent weights transposed"),
        Wrong("ex-rnn-forward",
              "def rnn_forward(x, h0, Wx, Wh, b):\n    caches, hs = [], []\n"
              "    for t in range(x.shape[1]):\n"
              "        h, c = rnn_step_forward(x[:, t], h0, Wx, Wh, b)\n"
              "        hs.append(h)\n        caches.append(c)\n"
              "    return np.stack(hs, axis=1), caches\n",
              fails=["test-rnn-forward"], why="forgets the previous hidden state: every step from h0"),
        Wrong("ex-rnn-forward",
              "def rnn_forward(x, h0, Wx, Wh, b):\n    N, T, _ = x.shape\n"
              "    h = np.zeros((N, T, h0.shape[1]))\n    caches, prev = [], h0\n"
              "    for t in range(T):\n"
              "        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)\n"
              "        h[:, t] = prev\n        caches.append(c)\n    return h, caches\n",
              fails=["test-rnn-forward"], why="float64 states for float32 inputs (np.zeros default)"),
        Wrong("ex-rnn-forward",
              "def rnn_forward(x, h0, Wx, Wh, b):\n    caches, hs, prev = [], [], h0\n"
              "    for t in range(x.shape[1]):\n"
              "        prev, c = rnn_step_forward(x[:, t], prev, Wx, Wh, b)\n"
              "        hs.append(prev)\n        caches.append(c)\n"
              "    return np.stack(hs), caches\n",
              fails=["test-rnn-forward"], why="time-major output (T, N, H)"),
        Wrong("ex-rnn-step-backward", rnn_step_backward_code(da="dnext_h"),
              fails=["test-rnn-step-backward"], why="no tanh derivative"),
        Wrong("ex-rnn-step-backward", rnn_step_backward_code(dprev="da @ Wh"),
              fails=["test-rnn-step-backward"], why="dprev_h without transposing Wh"),
        Wrong("ex-rnn-step-backward", rnn_step_backward_code(db="da"),
              fails=["test-rnn-step-backward"], why="db not summed over the batch"),
        Wrong("ex-rnn-backward", rnn_backward_code(accumulate=False),
              fails=["test-rnn-backward"], why="gradients not accumulated over time (only the first step's)"),
        Wrong("ex-rnn-backward", rnn_backward_code(step_input="dh[:, t]"),
              fails=["test-rnn-backward"], why="the gradient flowing back from step t + 1 is dropped"),
        Wrong("ex-rnn-backward",
              rnn_backward_code(step_input="dh[:, t] if t == T - 1 else dprev_h"),
              fails=["test-rnn-backward"], why="dh[:, t] used only at the last step"),
        Wrong("ex-clip",
              "def clip_grad_norm(grads, max_norm):\n"
              "    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))\n"
              "    return [np.clip(g, -max_norm, max_norm) for g in grads], norm\n",
              fails=["test-clip"], why="clips each element instead of the norm"),
        Wrong("ex-clip",
              "def clip_grad_norm(grads, max_norm):\n"
              "    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))\n"
              "    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads], norm\n",
              fails=["test-clip"], why="clips each array by its own norm"),
        Wrong("ex-clip",
              "def clip_grad_norm(grads, max_norm):\n"
              "    norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))\n"
              "    if norm > max_norm:\n        for g in grads:\n            g *= max_norm / norm\n"
              "    return grads, norm\n",
              fails=["test-clip"], why="scales the caller's arrays in place"),
        Wrong("ex-lstm-step", lstm_code(g_act="sigmoid"),
              fails=["test-lstm-step"], why="tanh and sigmoid swapped on the candidate"),
        Wrong("ex-lstm-step", lstm_code(c="i * prev_c + f * g"),
              fails=["test-lstm-step"], why="the forget gate applied to the new candidate"),
        Wrong("ex-lstm-step", lstm_code(order="i, f, o, g"),
              fails=["test-lstm-step"], why="cs231n's gate order (i, f, o, g) instead of torch's"),
        Wrong("ex-lstm-step", lstm_code(h="o * next_c"),
              fails=["test-lstm-step"], why="h = o * c without the tanh"),
        Wrong("ex-gru-cell",
              "def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n"
              "    H = h.shape[-1]\n"
              "    i_r, i_z, i_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)\n"
              "    r = torch.sigmoid(i_r + h @ w_hh[:H].T + b_hh[:H])\n"
              "    z = torch.sigmoid(i_z + h @ w_hh[H:2 * H].T + b_hh[H:2 * H])\n"
              "    n = torch.tanh(i_n + (r * h) @ w_hh[2 * H:].T + b_hh[2 * H:])\n"
              "    return (1 - z) * n + z * h\n",
              fails=["test-gru-cell"], why="the reset gate applied to h before the product (the paper's variant)"),
        Wrong("ex-gru-cell", gru_code(out="z * n + (1 - z) * h"),
              fails=["test-gru-cell"], why="the update gate's roles swapped"),
        Wrong("ex-gru-cell", gru_code(n="torch.sigmoid(i_n + r * h_n)"),
              fails=["test-gru-cell"], why="sigmoid instead of tanh on the candidate"),
        Wrong("ex-bidirectional", bidirectional_code(place="backward[k] = h_bw"),
              fails=["test-bidirectional"], why="backward states left in reading order"),
        Wrong("ex-bidirectional", bidirectional_code(start_bw="h_fw"),
              fails=["test-bidirectional"], why="the backward pass starts from the forward's final state"),
        Wrong("ex-bidirectional", bidirectional_code(final_bw="backward[-1]"),
              fails=["test-bidirectional"], why="the backward final state taken at step T-1"),
        Wrong("ex-generate", generate_code(feed="model.run(nxt)"),
              fails=["test-generate"], why="forgets the hidden state between steps"),
        Wrong("ex-generate", generate_code(logits_scaled="last * temperature"),
              fails=["test-generate"], why="multiplies the logits by the temperature"),
        Wrong("ex-generate", generate_code(feed="model.run(torch.cat(out, dim=1), state)"),
              fails=["test-generate"], why="re-reads the whole text on top of the carried state"),
    ]

    RIGHT = [
        Right("ex-unroll",
              "from itertools import accumulate\n\n"
              "def unroll(step, h0, xs):\n    return list(accumulate(xs, step, initial=h0))[1:]\n",
              why="itertools.accumulate"),
        Right("ex-rnn-step",
              "def rnn_step_forward(x, prev_h, Wx, Wh, b):\n"
              "    a = np.einsum('nd,dh->nh', x, Wx) + np.einsum('nk,kh->nh', prev_h, Wh) + b\n"
              "    next_h = (np.exp(2 * a) - 1) / (np.exp(2 * a) + 1)\n"
              "    return next_h, {'x': x, 'prev_h': prev_h, 'Wx': Wx, 'Wh': Wh, 'out': next_h}\n",
              why="einsum, tanh from exp, a dict as cache"),
        Right("ex-rnn-forward",
              "def rnn_forward(x, h0, Wx, Wh, b):\n"
              "    hs, caches, prev = [], [], h0\n"
              "    for x_t in x.transpose(1, 0, 2):\n"
              "        prev, c = rnn_step_forward(x_t, prev, Wx, Wh, b)\n"
              "        hs.append(prev.astype(x.dtype))\n        caches.append(c)\n"
              "    return np.stack(hs, axis=1), caches\n",
              why="iterates over the time-major view and stacks"),
        Right("ex-rnn-step-backward",
              "def rnn_step_backward(dnext_h, cache):\n"
              "    da = dnext_h * (1 - cache['out']) * (1 + cache['out'])\n"
              "    dx = np.einsum('nh,dh->nd', da, cache['Wx'])\n"
              "    dprev_h = np.einsum('nh,kh->nk', da, cache['Wh'])\n"
              "    dWx = np.einsum('nd,nh->dh', cache['x'], da)\n"
              "    dWh = np.einsum('nk,nh->kh', cache['prev_h'], da)\n"
              "    return dx, dprev_h, dWx, dWh, np.einsum('nh->h', da)\n",
              why="einsum throughout, (1 - h)(1 + h)"),
        Right("ex-rnn-backward",
              "def rnn_backward(dh, cache):\n"
              "    T = dh.shape[1]\n"
              "    carry = np.zeros_like(dh[:, 0])\n"
              "    dxs, dWxs, dWhs, dbs = [], [], [], []\n"
              "    t = T - 1\n"
              "    while t >= 0:\n"
              "        dx, carry, dWx, dWh, db = rnn_step_backward(dh[:, t] + carry, cache[t])\n"
              "        dxs.insert(0, dx)\n        dWxs.append(dWx)\n        dWhs.append(dWh)\n"
              "        dbs.append(db)\n        t -= 1\n"
              "    return np.stack(dxs, axis=1), carry, sum(dWxs), sum(dWhs), sum(dbs)\n",
              why="a while loop, lists summed at the end"),
        Right("ex-clip",
              "def clip_grad_norm(grads, max_norm):\n"
              "    norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads])))\n"
              "    if norm <= max_norm:\n        return [g.copy() for g in grads], norm\n"
              "    return [g / norm * max_norm for g in grads], norm\n",
              why="one flat vector and np.linalg.norm"),
        Right("ex-lstm-step",
              SIGMOID +
              "def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):\n"
              "    H = prev_h.shape[1]\n"
              "    gate = lambda k: x @ Wx[:, k * H:(k + 1) * H] + prev_h @ Wh[:, k * H:(k + 1) * H] "
              "+ b[k * H:(k + 1) * H]\n"
              "    i, f, g, o = sigmoid(gate(0)), sigmoid(gate(1)), np.tanh(gate(2)), sigmoid(gate(3))\n"
              "    next_c = f * prev_c + i * g\n"
              "    return o * np.tanh(next_c), next_c\n",
              why="four matrix products, one per gate, instead of one fused product"),
        Right("ex-gru-cell",
              "import torch.nn.functional as F\n\n"
              "def gru_cell(x, h, w_ih, w_hh, b_ih, b_hh):\n"
              "    W_ir, W_iz, W_in = w_ih.split(h.shape[-1])\n"
              "    W_hr, W_hz, W_hn = w_hh.split(h.shape[-1])\n"
              "    b_ir, b_iz, b_in = b_ih.split(h.shape[-1])\n"
              "    b_hr, b_hz, b_hn = b_hh.split(h.shape[-1])\n"
              "    r = torch.sigmoid(F.linear(x, W_ir, b_ir) + F.linear(h, W_hr, b_hr))\n"
              "    z = torch.sigmoid(F.linear(x, W_iz, b_iz) + F.linear(h, W_hz, b_hz))\n"
              "    n = torch.tanh(F.linear(x, W_in, b_in) + r * F.linear(h, W_hn, b_hn))\n"
              "    return n + z * (h - n)\n",
              why="six separate products with F.linear, h' = n + z (h - n)"),
        Right("ex-bidirectional",
              "def bidirectional(cell_fw, cell_bw, x):\n"
              "    def run(cell, seq):\n"
              "        h, out = None, []\n"
              "        for x_t in seq:\n            h = cell(x_t, h)\n            out.append(h)\n"
              "        return torch.stack(out), h\n"
              "    fw, h_fw = run(cell_fw, x)\n"
              "    bw, h_bw = run(cell_bw, torch.flip(x, dims=[0]))\n"
              "    return torch.cat([fw, torch.flip(bw, dims=[0])], dim=2), torch.stack([h_fw, h_bw])\n",
              why="torch.flip the input and the backward outputs"),
        Right("ex-generate",
              "import torch.nn.functional as F\n\n"
              "def generate(model, idx, max_new_tokens, temperature=1.0, generator=None):\n"
              "    tokens = idx\n"
              "    with torch.no_grad():\n"
              "        logits, state = model.run(idx)\n"
              "        while tokens.shape[1] < idx.shape[1] + max_new_tokens:\n"
              "            if temperature == 0:\n"
              "                nxt = torch.argmax(logits[:, -1], dim=-1).unsqueeze(1)\n"
              "            else:\n"
              "                nxt = torch.multinomial(F.softmax(logits[:, -1] / temperature, dim=-1), 1,\n"
              "                                        generator=generator)\n"
              "            tokens = torch.cat([tokens, nxt], dim=1)\n"
              "            logits, state = model.run(tokens[:, -1:], state)\n"
              "    return tokens\n",
              why="a while loop growing one tensor, F.softmax"),
    ]
