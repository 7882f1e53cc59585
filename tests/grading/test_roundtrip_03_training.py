"""Grading round trip of 03_training: plausible mistakes score 0, other correct answers full marks."""

from harness import Right, RoundTrip, Wrong


class TestTrainingRoundTrip(RoundTrip):
    assignment = "03_training"

    WRONG = [
        Wrong("ex-mse",
              "def mse_loss(pred, target):\n    return float(np.sum((pred - target) ** 2))\n",
              fails=["test-mse"], why="sum instead of mean"),
        Wrong("ex-bce",
              "def binary_cross_entropy(logits, y):\n    p = 1 / (1 + np.exp(-logits))\n"
              "    return float(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)))\n",
              fails=["test-bce"], why="through probabilities: log(1 - sigmoid(1000)) = -inf"),
        Wrong("ex-cross-entropy",
              "def cross_entropy(logits, y):\n"
              "    q = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
              "    return float(-np.log(q[np.arange(len(y)), y]).mean())\n",
              fails=["test-cross-entropy"], why="no log-sum-exp: exp(1e4) overflows"),
        Wrong("ex-cross-entropy",
              "def cross_entropy(logits, y):\n    z = logits - logits.max(axis=1, keepdims=True)\n"
              "    q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
              "    return float(-np.log(q[np.arange(len(y)), y] + 1e-12).mean())\n",
              fails=["test-cross-entropy"], why="stable softmax but log(q + eps): capped near 27.6"),
        Wrong("ex-kl",
              "def kl_divergence(p, q):\n    p, q = np.asarray(q, float), np.asarray(p, float)\n"
              "    t = np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / np.where(p > 0, q, 1)), 0.0)\n"
              "    return float(np.mean(t.sum(axis=-1)))\n",
              fails=["test-kl"], why="arguments swapped: KL(q || p)"),
        Wrong("ex-kl",
              "def kl_divergence(p, q):\n    p, q = np.asarray(p, float), np.asarray(q, float)\n"
              "    return float(np.mean(np.sum(p * np.log(p / q), axis=-1)))\n",
              fails=["test-kl"], why="0 * log 0 gives NaN where p has zeros"),
        Wrong("ex-momentum",
              "def momentum_step(p, g, state, lr, momentum=0.9):\n"
              "    state['b'] = momentum * state['b'] + g if 'b' in state else g.copy()\n"
              "    return p + lr * state['b']\n",
              fails=["test-momentum"], why="momentum sign: steps up the gradient"),
        Wrong("ex-momentum",
              "def momentum_step(p, g, state, lr, momentum=0.9):\n"
              "    b = state.get('b', np.zeros_like(p))\n"
              "    state['b'] = momentum * b + (1 - momentum) * g\n"
              "    return p - lr * state['b']\n",
              fails=["test-momentum"], why="an exponential moving average (dampening), not torch's buffer"),
        Wrong("ex-nesterov",
              "def nesterov_step(p, g, state, lr, momentum=0.9):\n"
              "    old = state.get('b', g)\n"
              "    state['b'] = momentum * state['b'] + g if 'b' in state else g.copy()\n"
              "    return p - lr * (g + momentum * old)\n",
              fails=["test-nesterov"], why="look-ahead with the buffer from before the update"),
        Wrong("ex-nesterov",
              "def nesterov_step(p, g, state, lr, momentum=0.9):\n"
              "    state['b'] = momentum * state['b'] + g if 'b' in state else g.copy()\n"
              "    return p - lr * state['b']\n",
              fails=["test-nesterov"], why="plain momentum, no look-ahead"),
        Wrong("ex-rmsprop",
              "def rmsprop_step(p, g, state, lr, alpha=0.99, eps=1e-8):\n"
              "    state['v'] = alpha * state.get('v', 0.0) + (1 - alpha) * g ** 2\n"
              "    return p - lr * g / np.sqrt(state['v'] + eps)\n",
              fails=["test-rmsprop"], why="eps inside the square root"),
        Wrong("ex-adam",
              "def adam_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8):\n"
              "    b1, b2 = betas\n"
              "    state['m'] = b1 * state.get('m', 0.0) + (1 - b1) * g\n"
              "    state['v'] = b2 * state.get('v', 0.0) + (1 - b2) * g ** 2\n"
              "    return p - lr * state['m'] / (np.sqrt(state['v']) + eps)\n",
              fails=["test-adam"], why="no bias correction"),
        Wrong("ex-adam",
              "def adam_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8):\n"
              "    b1, b2 = betas\n    t = state['t'] = state.get('t', 0) + 1\n"
              "    state['m'] = b1 * state.get('m', 0.0) + (1 - b1) * g\n"
              "    state['v'] = b2 * state.get('v', 0.0) + (1 - b2) * g ** 2\n"
              "    return p - lr * state['m'] / (1 - b1 ** t) / (np.sqrt(state['v']) + eps)\n",
              fails=["test-adam"], why="bias-corrects m but not v"),
        Wrong("ex-dropout",
              "def dropout_forward(x, p, rng, train=True):\n    if not train:\n        return x\n"
              "    return x * (rng.random(x.shape) >= p)\n",
              fails=["test-dropout"], why="not scaled by 1 / (1 - p)"),
        Wrong("ex-dropout",
              "def dropout_forward(x, p, rng, train=True):\n    if not train:\n        return x\n"
              "    return x * (rng.random(x.shape) < p) / (1 - p)\n",
              fails=["test-dropout"], why="keeps units with probability p instead of dropping them"),
        Wrong("ex-dropout",
              "def dropout_forward(x, p, rng, train=True):\n    if not train:\n        return x * (1 - p)\n"
              "    return x * (rng.random(x.shape) >= p)\n",
              fails=["test-dropout"], why="classic (non-inverted) dropout: scales at evaluation"),
        Wrong("ex-should-stop",
              "def should_stop(history, patience):\n    if not history:\n        return False\n"
              "    return len(history) - 1 - int(np.argmin(history)) > patience\n",
              fails=["test-should-stop"], why="off by one: waits patience + 1 epochs"),
        Wrong("ex-should-stop",
              "def should_stop(history, patience):\n    if not history:\n        return False\n"
              "    last_best = len(history) - 1 - int(np.argmin(history[::-1]))\n"
              "    return len(history) - 1 - last_best >= patience\n",
              fails=["test-should-stop"], why="a tie with the best counts as an improvement"),
        Wrong("ex-adamw",
              "def adamw_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):\n"
              "    return adam_step(p, g + weight_decay * p, state, lr, betas=betas, eps=eps)\n",
              fails=["test-adamw"], why="Adam with L2 (decay through the gradient), not decoupled"),
        Wrong("ex-seeded-losses",
              "def seeded_losses(seed, X, y, steps=20, batch_size=32, lr=3e-4):\n"
              "    model = make_mlp((64, 32, 10))\n    opt = torch.optim.Adam(model.parameters(), lr=lr)\n"
              "    losses = []\n    for _ in range(steps):\n"
              "        idx = torch.randint(0, len(X), (batch_size,))\n"
              "        loss = F.cross_entropy(model(X[idx]), y[idx])\n"
              "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"
              "        losses.append(loss.item())\n    return losses\n",
              fails=["test-seeded-losses"], why="never seeds"),
        Wrong("ex-seeded-losses",
              "def seeded_losses(seed, X, y, steps=20, batch_size=32, lr=3e-4):\n"
              "    torch.manual_seed(seed)\n    model = make_mlp((64, 32, 10))\n"
              "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n"
              "    losses = []\n    for _ in range(steps):\n"
              "        idx = np.random.randint(0, len(X), batch_size)\n"
              "        loss = F.cross_entropy(model(X[idx]), y[idx])\n"
              "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"
              "        losses.append(loss.item())\n    return losses\n",
              fails=["test-seeded-losses"], why="seeds torch but draws batches from NumPy's unseeded global RNG"),
        Wrong("ex-majority-baseline",
              "def majority_baseline_accuracy(y_train, y_test):\n"
              "    return float(np.mean(y_test == np.bincount(y_test).argmax()))\n",
              fails=["test-majority-baseline"], why="majority class of the test labels"),
        Wrong("ex-overfit-batch",
              "def overfit_batch(model, X, y, steps=200, lr=1e-2):\n"
              "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n    losses = []\n"
              "    for _ in range(steps):\n        loss = F.cross_entropy(model(X), y)\n"
              "        opt.zero_grad()\n        loss.backward()\n        losses.append(loss.item())\n"
              "    return losses\n",
              fails=["test-overfit-batch"], why="forgets optimizer.step()"),
        Wrong("ex-overfit-batch",
              "import copy\n\ndef overfit_batch(model, X, y, steps=200, lr=1e-2):\n"
              "    model = copy.deepcopy(model)\n"
              "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n    losses = []\n"
              "    for _ in range(steps):\n        loss = F.cross_entropy(model(X), y)\n"
              "        opt.zero_grad()\n        loss.backward()\n        opt.step()\n"
              "        losses.append(loss.item())\n    return losses\n",
              fails=["test-overfit-batch"], why="trains a copy, not the model it was given"),
        Wrong("ex-torch-mlp",
              "def torch_mlp_from_numpy(params):\n    layers = []\n    K = len(params) // 2\n"
              "    for k in range(1, K + 1):\n        W = torch.tensor(params[f'W{k}'])\n"
              "        lin = nn.Linear(W.shape[0], W.shape[1]).double()\n"
              "        with torch.no_grad():\n"
              "            lin.weight.copy_(W.reshape(W.shape[1], W.shape[0]))\n"
              "            lin.bias.copy_(torch.tensor(params[f'b{k}']))\n"
              "        layers += [lin, nn.ReLU()] if k < K else [lin]\n"
              "    return nn.Sequential(*layers)\n",
              fails=["test-torch-mlp"], why="reshape instead of transpose"),
        Wrong("ex-torch-mlp",
              "def torch_mlp_from_numpy(params):\n    layers = []\n"
              "    for k in range(1, len(params) // 2 + 1):\n        W = params[f'W{k}']\n"
              "        lin = nn.Linear(W.shape[0], W.shape[1]).double()\n"
              "        with torch.no_grad():\n            lin.weight.copy_(torch.tensor(W.T))\n"
              "            lin.bias.copy_(torch.tensor(params[f'b{k}']))\n"
              "        layers.append(lin)\n    return nn.Sequential(*layers)\n",
              fails=["test-torch-mlp"], why="no ReLU between the layers"),
        Wrong("ex-torch-grads",
              "def torch_gradients(model, X, y):\n    model.zero_grad()\n"
              "    F.cross_entropy(model(X), y, reduction='sum').backward()\n"
              "    lins = [m for m in model if isinstance(m, nn.Linear)]\n"
              "    out = {}\n    for k, m in enumerate(lins, 1):\n"
              "        out[f'W{k}'] = m.weight.grad.T.numpy().copy()\n"
              "        out[f'b{k}'] = m.bias.grad.numpy().copy()\n    return out\n",
              fails=["test-torch-grads"], why="summed loss: gradients N times too large"),
        Wrong("ex-torch-grads",
              "def torch_gradients(model, X, y):\n    model.zero_grad()\n"
              "    F.cross_entropy(model(X), y).backward()\n"
              "    lins = [m for m in model if isinstance(m, nn.Linear)]\n"
              "    out = {}\n    for k, m in enumerate(lins, 1):\n"
              "        out[f'W{k}'] = m.weight.grad.numpy().copy()\n"
              "        out[f'b{k}'] = m.bias.grad.numpy().copy()\n    return out\n",
              fails=["test-torch-grads"], why="weight gradients not transposed to the NumPy layout"),
        Wrong("ex-adagrad",
              "def adagrad_step(p, g, state, lr, eps=1e-10):\n"
              "    state['s'] = 0.99 * state.get('s', 0.0) + 0.01 * g ** 2\n"
              "    return p - lr * g / (np.sqrt(state['s']) + eps)\n",
              fails=["test-adagrad"], why="a running average of g^2 (RMSprop), not the sum"),
        Wrong("ex-adagrad",
              "def adagrad_step(p, g, state, lr, eps=1e-10):\n"
              "    state['s'] = state.get('s', 0.0) + g ** 2\n"
              "    return p - lr * g / np.sqrt(state['s'] + eps)\n",
              fails=["test-adagrad"], why="eps inside the square root"),
        Wrong("ex-adadelta",
              "def adadelta_step(p, g, state, lr=1.0, rho=0.9, eps=1e-6):\n"
              "    v = state['v'] = rho * state.get('v', 0.0) + (1 - rho) * g ** 2\n"
              "    u = state['u'] = rho * state.get('u', 0.0) + (1 - rho) * g ** 2\n"
              "    return p - lr * np.sqrt(u + eps) / np.sqrt(v + eps) * g\n",
              fails=["test-adadelta"], why="u averages squared gradients, not squared steps"),
        Wrong("ex-adadelta",
              "def adadelta_step(p, g, state, lr=1.0, rho=0.9, eps=1e-6):\n"
              "    v = state['v'] = rho * state.get('v', 0.0) + (1 - rho) * g ** 2\n"
              "    d = np.sqrt(state.get('u', 0.0) + eps) / np.sqrt(v + eps) * g\n"
              "    state['u'] = rho * state.get('u', 0.0) + (1 - rho) * d ** 2\n"
              "    return p - d\n",
              fails=["test-adadelta"], why="the paper's rule without torch's lr"),
        Wrong("ex-adadelta",
              "def adadelta_step(p, g, state, lr=1.0, rho=0.9, eps=1e-6):\n"
              "    v = state['v'] = rho * state.get('v', 0.0) + (1 - rho) * g ** 2\n"
              "    d = (np.sqrt(state.get('u', 0.0)) + eps) / (np.sqrt(v) + eps) * g\n"
              "    state['u'] = rho * state.get('u', 0.0) + (1 - rho) * d ** 2\n"
              "    return p - lr * d\n",
              fails=["test-adadelta"], why="eps outside the square roots: the first step is ~eps"),
        Wrong("ex-step-decay",
              "def step_decay_lr(step, lr0, drop, every):\n    return float(lr0 * drop ** step)\n",
              fails=["test-step-decay"], why="the drop applied at every step"),
        Wrong("ex-step-decay",
              "def step_decay_lr(step, lr0, drop, every):\n    return float(lr0 * drop ** ((step + 1) // every))\n",
              fails=["test-step-decay"], why="off by one: the first drop a step early"),
        Wrong("ex-warmup-cosine",
              "import math\n\ndef warmup_cosine_lr(step, max_lr, total_steps, warmup_steps=0, min_lr=0.0):\n"
              "    if step < warmup_steps:\n        return max_lr * step / warmup_steps\n"
              "    if step >= total_steps:\n        return min_lr\n"
              "    t = (step - warmup_steps) / (total_steps - warmup_steps)\n"
              "    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * t))\n",
              fails=["test-warmup-cosine"], why="off-by-one warm-up: starts at 0, reaches max_lr a step late"),
        Wrong("ex-warmup-cosine",
              "import math\n\ndef warmup_cosine_lr(step, max_lr, total_steps, warmup_steps=0, min_lr=0.0):\n"
              "    if step < warmup_steps:\n        return max_lr * (step + 1) / warmup_steps\n"
              "    if step >= total_steps:\n        return min_lr\n"
              "    t = (step - warmup_steps) / total_steps\n"
              "    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * t))\n",
              fails=["test-warmup-cosine"], why="progress over total_steps: the cosine never reaches the floor"),
        Wrong("ex-warmup-cosine",
              "import math\n\ndef warmup_cosine_lr(step, max_lr, total_steps, warmup_steps=0, min_lr=0.0):\n"
              "    if step < warmup_steps:\n        return max_lr * (step + 1) / warmup_steps\n"
              "    if step >= total_steps:\n        return min_lr\n"
              "    t = (step - warmup_steps) / (total_steps - warmup_steps)\n"
              "    return 0.5 * max_lr * (1 + math.cos(math.pi * t))\n",
              fails=["test-warmup-cosine"], why="decays to 0, ignoring min_lr"),
        Wrong("ex-warmup-cosine",
              "import math\n\ndef warmup_cosine_lr(step, max_lr, total_steps, warmup_steps=0, min_lr=0.0):\n"
              "    if step < warmup_steps:\n        return max_lr * (step + 1) / warmup_steps\n"
              "    t = (step - warmup_steps) / (total_steps - warmup_steps)\n"
              "    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * t))\n",
              fails=["test-warmup-cosine"], why="no floor after total_steps: the cosine climbs back up"),
    ]

    RIGHT = [
        Right("ex-mse",
              "def mse_loss(pred, target):\n    d = np.subtract(pred, target, dtype=float)\n"
              "    return float(np.square(d).sum() / d.size)\n",
              why="np.square and an explicit division by the size"),
        Right("ex-bce",
              "def binary_cross_entropy(logits, y):\n    z = np.asarray(logits, float)\n"
              "    return float(np.mean(np.logaddexp(0.0, z) - z * np.asarray(y, float)))\n",
              why="softplus via np.logaddexp"),
        Right("ex-cross-entropy",
              "from scipy.special import logsumexp\n\n"
              "def cross_entropy(logits, y):\n    z = np.asarray(logits, float)\n"
              "    picked = np.take_along_axis(z, np.asarray(y)[:, None], axis=1)[:, 0]\n"
              "    return float(np.mean(logsumexp(z, axis=1) - picked))\n",
              why="scipy's logsumexp and take_along_axis"),
        Right("ex-kl",
              "from scipy.special import rel_entr\n\n"
              "def kl_divergence(p, q):\n"
              "    return float(np.mean(np.sum(rel_entr(np.asarray(p, float), np.asarray(q, float)), axis=-1)))\n",
              why="scipy's rel_entr"),
        Right("ex-momentum",
              "def momentum_step(p, g, state, lr, momentum=0.9):\n"
              "    v = state.get('velocity', np.zeros_like(p))\n"
              "    v = momentum * v - lr * g\n    state['velocity'] = v\n    return p + v\n",
              why="Sutskever's velocity form from zero (the same for a constant lr)"),
        Right("ex-nesterov",
              "def nesterov_step(p, g, state, lr, momentum=0.9):\n"
              "    b = state.setdefault('b', np.zeros_like(p))\n"
              "    b *= momentum\n    b += g\n    return p - lr * g - lr * momentum * b\n",
              why="a buffer starting at zero, updated in place"),
        Right("ex-rmsprop",
              "def rmsprop_step(p, g, state, lr, alpha=0.99, eps=1e-8):\n"
              "    if 'v' not in state:\n        state['v'] = np.zeros_like(p)\n"
              "    state['v'] *= alpha\n    state['v'] += (1 - alpha) * np.square(g)\n"
              "    denom = np.sqrt(state['v']) + eps\n    return p - lr * (g / denom)\n",
              why="in-place running average"),
        Right("ex-adam",
              "def adam_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8):\n"
              "    b1, b2 = betas\n    t = state['t'] = state.get('t', 0) + 1\n"
              "    m = state['m'] = b1 * state.get('m', 0.0) + (1 - b1) * g\n"
              "    v = state['v'] = b2 * state.get('v', 0.0) + (1 - b2) * g * g\n"
              "    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t\n"
              "    step = lr * np.sqrt(bc2) / bc1\n"
              "    return p - step * m / (np.sqrt(v) + eps * np.sqrt(bc2))\n",
              why="the paper's folded step size lr * sqrt(1 - b2^t) / (1 - b1^t)"),
        Right("ex-dropout",
              "def dropout_forward(x, p, rng, train=True):\n    x = np.asarray(x, float)\n"
              "    if train:\n        keep = rng.binomial(1, 1.0 - p, size=x.shape)\n"
              "        x = np.where(keep == 1, x / (1.0 - p), 0.0)\n    return x\n",
              why="rng.binomial and np.where"),
        Right("ex-should-stop",
              "def should_stop(history, patience):\n    best, since = float('inf'), 0\n"
              "    for value in history:\n        if value < best:\n            best, since = value, 0\n"
              "        else:\n            since += 1\n    return since >= patience\n",
              why="a loop counting epochs since the best"),
        Right("ex-adamw",
              "def adamw_step(p, g, state, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):\n"
              "    b1, b2 = betas\n    t = state['t'] = state.get('t', 0) + 1\n"
              "    state['m'] = b1 * state.get('m', 0.0) + (1 - b1) * g\n"
              "    state['v'] = b2 * state.get('v', 0.0) + (1 - b2) * g ** 2\n"
              "    update = (state['m'] / (1 - b1 ** t)) / (np.sqrt(state['v'] / (1 - b2 ** t)) + eps)\n"
              "    return p - lr * weight_decay * p - lr * update\n",
              why="self-contained, the decay written as a subtraction"),
        Right("ex-seeded-losses",
              "def seeded_losses(seed, X, y, steps=20, batch_size=32, lr=3e-4):\n"
              "    torch.manual_seed(seed)\n    model = make_mlp((64, 32, 10))\n"
              "    gen = torch.Generator().manual_seed(seed)\n"
              "    opt = torch.optim.Adam(model.parameters(), lr=lr)\n    out = []\n"
              "    for step in range(steps):\n"
              "        idx = torch.randperm(len(X), generator=gen)[:batch_size]\n"
              "        opt.zero_grad(set_to_none=True)\n"
              "        loss = F.cross_entropy(model(X[idx]), y[idx])\n"
              "        loss.backward()\n        opt.step()\n        out.append(float(loss))\n"
              "    return out\n",
              why="a dedicated torch.Generator for the batches"),
        Right("ex-majority-baseline",
              "def majority_baseline_accuracy(y_train, y_test):\n"
              "    labels, counts = np.unique(y_train, return_counts=True)\n"
              "    return sum(int(v == labels[np.argmax(counts)]) for v in y_test) / len(y_test)\n",
              why="np.unique counts and a Python sum"),
        Right("ex-overfit-batch",
              "def overfit_batch(model, X, y, steps=200, lr=1e-2):\n    model.train()\n"
              "    optimizer = torch.optim.Adam(model.parameters(), lr)\n    history = []\n"
              "    step = 0\n    while step < steps:\n        optimizer.zero_grad(set_to_none=True)\n"
              "        loss = nn.CrossEntropyLoss()(model(X), y)\n        loss.backward()\n"
              "        optimizer.step()\n        history.append(float(loss.detach()))\n        step += 1\n"
              "    return history\n",
              why="nn.CrossEntropyLoss and a while loop"),
        Right("ex-torch-mlp",
              "def torch_mlp_from_numpy(params):\n    K = len(params) // 2\n    modules = []\n"
              "    for k in range(1, K + 1):\n        W = params[f'W{k}']\n"
              "        lin = nn.Linear(*W.shape, dtype=torch.float64)\n"
              "        lin.load_state_dict({'weight': torch.tensor(W).T.contiguous(),\n"
              "                             'bias': torch.tensor(params[f'b{k}'])})\n"
              "        modules.append(lin)\n        if k != K:\n            modules.append(nn.ReLU())\n"
              "    return nn.Sequential(*modules)\n",
              why="load_state_dict with a transposed tensor"),
        Right("ex-torch-grads",
              "def torch_gradients(model, X, y):\n"
              "    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]\n"
              "    tensors = [t for m in lins for t in (m.weight, m.bias)]\n"
              "    gs = torch.autograd.grad(F.cross_entropy(model(X), y), tensors)\n"
              "    out = {}\n    for k in range(len(lins)):\n"
              "        out[f'W{k + 1}'] = gs[2 * k].T.numpy()\n"
              "        out[f'b{k + 1}'] = gs[2 * k + 1].numpy()\n    return out\n",
              why="torch.autograd.grad, no .grad attributes"),
        Right("ex-adagrad",
              "def adagrad_step(p, g, state, lr, eps=1e-10):\n"
              "    if 'G' not in state:\n        state['G'] = np.zeros_like(p)\n"
              "    state['G'] += np.square(g)\n"
              "    return p - lr * (g / (np.sqrt(state['G']) + eps))\n",
              why="an in-place accumulator and np.square"),
        Right("ex-adadelta",
              "def adadelta_step(p, g, state, lr=1.0, rho=0.9, eps=1e-6):\n"
              "    Eg2 = state.setdefault('Eg2', np.zeros_like(p))\n"
              "    Edx2 = state.setdefault('Edx2', np.zeros_like(p))\n"
              "    Eg2 *= rho\n    Eg2 += (1 - rho) * np.square(g)\n"
              "    dx = g * np.sqrt((Edx2 + eps) / (Eg2 + eps))\n"
              "    Edx2 *= rho\n    Edx2 += (1 - rho) * np.square(dx)\n"
              "    return p - lr * dx\n",
              why="the paper's names, in-place averages, one square root of the ratio"),
        Right("ex-step-decay",
              "def step_decay_lr(step, lr0, drop, every):\n    lr = float(lr0)\n"
              "    for _ in range(step // every):\n        lr *= drop\n    return lr\n",
              why="a loop multiplying once per stage"),
        Right("ex-warmup-cosine",
              "import math\n\ndef warmup_cosine_lr(step, max_lr, total_steps, warmup_steps=0, min_lr=0.0):\n"
              "    if step >= total_steps:\n        return float(min_lr)\n"
              "    if step < warmup_steps:\n        return (step + 1) / warmup_steps * max_lr\n"
              "    frac = (step - warmup_steps) / (total_steps - warmup_steps)\n"
              "    return float(min_lr + (max_lr - min_lr) * math.cos(math.pi * frac / 2) ** 2)\n",
              why="(1 + cos x) / 2 written as cos(x / 2)^2, branches in another order"),
    ]
