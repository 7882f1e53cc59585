"""Optimisers over a dict of NumPy parameters, step for step the same as ``torch.optim``.

``params`` is a dict name -> float ndarray (``model.params`` of the MLP); ``step(grads)``
takes a dict with the same names and updates the arrays *in place*, so every view of
them (the model, a plot) sees the new values::

    opt = Adam(model.params, lr=1e-3)
    for X, y in batches:
        loss, grads = model.loss(X, y)
        opt.step(grads)

Each update rule follows torch's single-tensor implementation (``_single_tensor_sgd``
and friends in ``torch/optim/*.py``) with the same hyperparameters and defaults, and
rejects the same bad values with a ``ValueError``. Per-parameter state (moments,
accumulators, step counts) is created lazily at a parameter's first step, as torch
does; a gradient that is missing or ``None`` leaves its parameter and state untouched
(torch skips a parameter whose ``.grad`` is ``None``). ``reset()`` forgets all state.
Hyperparameters are plain attributes, so a schedule can set ``opt.lr`` between steps.

Notation in the comments: g is the gradient, p the parameter, t the step count.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW"]


def _check_range(name: str, value: float, low: float = 0.0, high: float | None = None,
                 high_inclusive: bool = True) -> None:
    """Raise ValueError unless low <= value (<=|<) high, with torch's wording."""
    too_high = high is not None and (value > high if high_inclusive else value >= high)
    if not value >= low or too_high:  # `not >=` also catches NaN
        raise ValueError(f"Invalid {name} value: {value}")


class Optimizer:
    """Holds the parameters, their per-parameter state and the update rule.

    Subclasses implement ``_update(p, g, state)``, which changes ``p`` in place.
    """

    def __init__(self, params: Mapping[str, np.ndarray], lr: float):
        if not isinstance(params, Mapping):
            raise TypeError("params must be a dict name -> np.ndarray (e.g. model.params), "
                            f"got {type(params).__name__}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                kind = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
                raise TypeError(f"params[{name!r}] must be a float ndarray (it is updated in "
                                f"place), got {kind}")
        if not lr >= 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        self.params = params
        self.lr = lr
        self.state: dict[str, dict] = {}

    def step(self, grads: Mapping[str, np.ndarray | None]) -> None:
        """Update every parameter named in ``grads`` in place; gradients keep their values."""
        for name, grad in grads.items():
            if grad is None:
                continue
            if name not in self.params:
                raise KeyError(f"grads has {name!r}, which is not a parameter; "
                               f"parameters: {sorted(self.params)}")
            p = self.params[name]
            g = np.asarray(grad, dtype=p.dtype)
            if g.shape != p.shape:
                raise ValueError(f"grads[{name!r}] has shape {g.shape}, but params[{name!r}] "
                                 f"has shape {p.shape}")
            if p.ndim == 0:
                # NumPy arithmetic on 0-d arrays returns immutable scalars, which would
                # break the in-place updates of the state below: work on a (1,) view.
                p, g = p.reshape(1), g.reshape(1)
            self._update(p, g, self.state.setdefault(name, {}))

    def reset(self) -> None:
        """Forget all state (moments, step counts): the next step acts like the first."""
        self.state = {}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = {k: v for k, v in vars(self).items() if k not in ("params", "state")}
        args = ", ".join(f"{k}={v!r}" for k, v in hyper.items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay.

    g <- g + weight_decay * p;  b <- momentum * b + (1 - dampening) * g  (b = g at t = 1);
    g <- g + momentum * b (Nesterov) or b;  p <- p - lr * g.
    """

    def __init__(self, params, lr: float = 1e-3, *, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False):
        super().__init__(params, lr)
        _check_range("momentum", momentum)
        _check_range("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weight_decay = weight_decay
        self.nesterov = nesterov

    def _update(self, p, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p  # a new array: the caller's gradient is not touched
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # torch starts the buffer at the first gradient, not at zero (no dampening)
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        p -= self.lr * g


class Adagrad(Optimizer):
    """Per-coordinate step sizes that shrink with the sum of squared gradients.

    s <- s + g^2 (s starts at initial_accumulator_value);
    p <- p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps).
    """

    def __init__(self, params, lr: float = 1e-2, *, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10):
        super().__init__(params, lr)
        _check_range("lr_decay", lr_decay)
        _check_range("weight_decay", weight_decay)
        _check_range("initial_accumulator_value", initial_accumulator_value)
        _check_range("epsilon", eps)
        self.lr_decay = lr_decay
        self.weight_decay = weight_decay
        self.initial_accumulator_value = initial_accumulator_value
        self.eps = eps

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, self.initial_accumulator_value)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        state["sum"] += g * g
        std = np.sqrt(state["sum"]) + self.eps
        p -= clr * g / std


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients.

    v <- alpha * v + (1 - alpha) * g^2;  centered: m <- alpha * m + (1 - alpha) * g and
    v - m^2 replaces v (a variance, not a raw second moment);  d = g / (sqrt(v) + eps);
    momentum: b <- momentum * b + d (b starts at 0), p <- p - lr * b; else p <- p - lr * d.
    """

    def __init__(self, params, lr: float = 1e-2, *, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, lr)
        _check_range("epsilon", eps)
        _check_range("momentum", momentum)
        _check_range("weight_decay", weight_decay)
        _check_range("alpha", alpha)
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.centered = centered

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if self.centered:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * g * g
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg += (1 - self.alpha) * (g - grad_avg)  # torch's lerp_(g, 1 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / avg
            p -= self.lr * buf
        else:
            p -= self.lr * g / avg


class Adadelta(Optimizer):
    """Steps sized by the ratio of running RMS of past updates to running RMS of gradients.

    v <- rho * v + (1 - rho) * g^2;  d = sqrt(u + eps) / sqrt(v + eps) * g;
    u <- rho * u + (1 - rho) * d^2;  p <- p - lr * d.  (lr = 1.0 is the paper's rule.)
    """

    def __init__(self, params, lr: float = 1.0, *, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_range("rho", rho, 0.0, 1.0)
        _check_range("epsilon", eps)
        _check_range("weight_decay", weight_decay)
        self.rho = rho
        self.eps = eps
        self.weight_decay = weight_decay

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            state["acc_delta"] = np.zeros_like(p)
        state["step"] += 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= self.rho
        square_avg += (1 - self.rho) * g * g
        std = np.sqrt(square_avg + self.eps)
        delta = np.sqrt(acc_delta + self.eps) / std * g
        acc_delta *= self.rho
        acc_delta += (1 - self.rho) * delta * delta
        p -= self.lr * delta


class Adam(Optimizer):
    """Momentum on the gradient, RMSprop-style scaling, both corrected for starting at 0.

    m <- b1 * m + (1 - b1) * g;  v <- b2 * v + (1 - b2) * g^2  (amsgrad: use max over
    time of v);  p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    ``weight_decay`` adds weight_decay * p to g (L2, coupled: it passes through m and v).
    """

    decoupled_weight_decay = False  # AdamW sets True

    def __init__(self, params, lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False):
        super().__init__(params, lr)
        _check_range("epsilon", eps)
        beta1, beta2 = betas
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {beta1}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {beta2}")
        _check_range("weight_decay", weight_decay)
        self.betas = (beta1, beta2)
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad

    def _update(self, p, g, state):
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self.decoupled_weight_decay:
                p *= 1 - self.lr * self.weight_decay  # shrink p directly, outside m and v
            else:
                g = g + self.weight_decay * p
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (g - exp_avg)  # torch's lerp_(g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        step_size = self.lr / bias_correction1
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / np.sqrt(bias_correction2) + self.eps
        p -= step_size * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p * (1 - lr * weight_decay) before the Adam step.

    Unlike L2 in Adam, the decay is not rescaled by sqrt(v), so every weight shrinks at
    the same rate (Loshchilov & Hutter, 2019). Default weight_decay=1e-2, as in torch.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr: float = 1e-3, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
