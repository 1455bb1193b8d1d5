"""Exercises of the chapter "Recurrent networks, BPTT and LSTMs".

The references are torch's own code, never the chapter's: autograd through
``torch.nn.RNN`` for backpropagation through time, and autograd through the
iterated logistic map for its derivative with respect to the parameter. Each
exercise names the typical mistakes of its topic (a path of the unrolled graph
left out, a derivative taken at the wrong step) without giving the answer
away. A loop over the time steps (or the iterations) is the point of both
exercises; a loop over the batch is not, and is refused. The model solutions
are what ``solution()`` shows.
"""

from __future__ import annotations

import torch

from nbutils.exercises.core import Case, Exercise, LoopFree, Mistake
from nbutils.exercises.recording import AUTOGRAD

_gen = torch.Generator().manual_seed(14)


def _no_autograd(advice: str) -> dict[str, str]:
    """Forbid automatic differentiation: the checker's reference uses it."""
    return {name: f"your answer calls {{name}}; {advice}" for name in AUTOGRAD}


def _randn(
    *shape: int, dtype: torch.dtype = torch.float64, generator=None
) -> torch.Tensor:
    return torch.randn(
        *shape, generator=generator or _gen, dtype=torch.float64
    ).to(dtype)


# ------------------------------------------ 1. BPTT through the hidden states


def _rnn_backward_reference(x, h0, W, U, grad_h):
    """(grad_W, grad_U, grad_h0) of sum(grad_h * H), H = nn.RNN(x, h0).

    By autograd.
    """
    d, m = x.shape[-1], W.shape[0]
    rnn = torch.nn.RNN(d, m, bias=False, batch_first=True, dtype=x.dtype)
    W_, U_, h0_ = (t.detach().clone().requires_grad_(True) for t in (W, U, h0))
    states, _ = torch.func.functional_call(
        rnn, {"weight_hh_l0": W_, "weight_ih_l0": U_}, (x, h0_[None])
    )
    return torch.autograd.grad(states, (W_, U_, h0_), grad_h)


def _forward(x, h0, W, U):
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        hs.append(h)
    return torch.stack(hs, dim=1)


def _backward(
    x, h0, W, U, grad_h, recurrent=True, derivative_at_next=False, keep_h0=True
):
    """The model solution, with switches that produce the typical mistakes."""
    h = _forward(x, h0, W, U)
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    z_bar = torch.zeros_like(h)
    carried = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_bar = grad_h[:, t] + (carried @ W if recurrent else 0)
        s = t + 1 if derivative_at_next and t + 1 < x.shape[1] else t
        carried = h_bar * (1 - h[:, s] ** 2)
        z_bar[:, t] = carried
    grad_W = torch.einsum("btm,btn->mn", z_bar, h_prev)
    grad_U = torch.einsum("btm,btd->md", z_bar, x)
    grad_h0 = z_bar[:, 0] @ W if keep_h0 else torch.zeros_like(h0)
    return grad_W, grad_U, grad_h0


def _rnn_backward_solution(x, h0, W, U, grad_h):
    """Backpropagation through time for h_t = tanh(W h_{t-1} + U x_t).

    h_bar_t = grad_h[:, t] + z_bar_{t+1} W  (the two children of h_t),
    z_bar_t = h_bar_t * (1 - h_t ** 2), and the shared weights collect a term
    from every step.
    """
    states = []
    h = h0
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        states.append(h)
    grad_W, grad_U = torch.zeros_like(W), torch.zeros_like(U)
    z_bar_next = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_bar = grad_h[:, t] + z_bar_next @ W
        z_bar = h_bar * (1 - states[t] ** 2)
        h_prev = states[t - 1] if t > 0 else h0
        grad_W = grad_W + z_bar.T @ h_prev
        grad_U = grad_U + z_bar.T @ x[:, t]
        z_bar_next = z_bar
    return grad_W, grad_U, z_bar_next @ W


def _without_recurrent_path(x, h0, W, U, grad_h):
    return _backward(x, h0, W, U, grad_h, recurrent=False)


def _derivative_at_next_step(x, h0, W, U, grad_h):
    return _backward(x, h0, W, U, grad_h, derivative_at_next=True)


def _last_step_only(x, h0, W, U, grad_h):
    only_last = torch.zeros_like(grad_h)
    only_last[:, -1] = grad_h[:, -1]
    return _backward(x, h0, W, U, only_last)


def _transposed_weight_grad(x, h0, W, U, grad_h):
    grad_W, grad_U, grad_h0 = _backward(x, h0, W, U, grad_h)
    return grad_W.T, grad_U, grad_h0


def _rnn_case(
    batch: int,
    length: int = 6,
    d: int = 3,
    m: int = 4,
    dtype=torch.float64,
    scale: float = 1.0,
):
    """(x, h0, W, U, grad_h), the same for the same sizes."""
    g = torch.Generator().manual_seed(1000 * batch + 10 * length + m)
    x = _randn(batch, length, d, generator=g)
    h0 = 0.5 * _randn(batch, m, generator=g)
    W = scale * _randn(m, m, generator=g) / m**0.5
    U = _randn(m, d, generator=g) / d**0.5
    grad_h = _randn(batch, length, m, generator=g)
    return tuple(t.to(dtype) for t in (x, h0, W, U, grad_h))


ex_rnn_backward = Exercise(
    name="rnn_backward",
    reference=_rnn_backward_reference,
    result_names=("grad_W", "grad_U", "grad_h0"),
    cases=[
        Case("a batch of 2 sequences of 6 steps, D = 3, M = 4", _rnn_case(2)),
        Case(
            "one sequence of one step (no recurrent path yet)",
            _rnn_case(1, length=1),
        ),
        Case(
            "a batch of 5, 12 steps, a large W (saturated tanh)",
            _rnn_case(5, length=12, scale=3.0),
        ),
        Case("float32 input", _rnn_case(3, length=8, dtype=torch.float32)),
    ],
    hints=[
        "Run the forward pass first and keep every state h_t. Then walk the "
        "steps backwards: the error of h_t has two sources, grad_h[:, t] and "
        "the error that step t + 1 sends back through W.",
        "With carried = 0 before the last step: "
        "h_bar = grad_h[:, t] + carried @ W, "
        "z_bar = h_bar * (1 - h_t ** 2), then add z_bar.T @ h_{t-1} to grad_W "
        "and z_bar.T @ x[:, t] to grad_U, and carry z_bar to step t - 1. "
        "grad_h0 is the last carried error times W.",
    ],
    solution=_rnn_backward_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _without_recurrent_path,
            "only the direct path is there: the error of h_t must also "
            "include what step t + 1 sends back through the recurrent "
            "weights.",
        ),
        Mistake(
            _last_step_only,
            "only the last step's output error reaches the weights: every "
            "state h_t has its own incoming gradient grad_h[:, t].",
        ),
        Mistake(
            _derivative_at_next_step,
            "the tanh derivative is taken at the wrong step: step t "
            "multiplies by 1 - h_t ** 2 of its own state.",
        ),
        Mistake(
            _transposed_weight_grad,
            "grad_W is transposed: its entry (i, j) pairs the error of "
            "unit i at step t with unit j of h_{t-1}.",
        ),
    ],
    forbidden=_no_autograd(
        "derive the backward recursion by hand and "
        "write it with tensor operations."
    ),
    loop_free=LoopFree(
        lambda n: _rnn_case(n, length=4), sizes=(4, 16), what="the batch"
    ),
)


# ------------------------------ 2. the logistic map's parameter derivative


def _logistic_reference(x0, a, n):
    """(x_n, d x_n / d a) by autograd through n steps of x <- a x (1 - x)."""
    # one a per output
    a_ = (a + torch.zeros_like(x0)).detach().requires_grad_(True)
    x = x0 + torch.zeros_like(a_)
    for _ in range(n):
        x = a_ * x * (1 - x)
    (grad,) = torch.autograd.grad(x.sum(), a_)
    return x.detach(), grad


def _logistic_solution(x0, a, n):
    """Forward-mode accumulation along the orbit.

    x_{k+1} = a x_k (1 - x_k), so by the product rule
    s_{k+1} = x_k (1 - x_k) + a (1 - 2 x_k) s_k with s_0 = 0,
    where s_k = dx_k/da.
    """
    x = x0 + torch.zeros_like(a)
    s = torch.zeros_like(x)
    for _ in range(n):
        x, s = a * x * (1 - x), x * (1 - x) + a * (1 - 2 * x) * s
    return x, s


def _logistic_only_direct(x0, a, n):
    x = x0 + torch.zeros_like(a)
    for _ in range(n - 1):
        x = a * x * (1 - x)
    return a * x * (1 - x), x * (1 - x)


def _logistic_only_chain(x0, a, n):
    x = x0 + torch.zeros_like(a)
    s = torch.ones_like(x)
    for _ in range(n):
        x, s = a * x * (1 - x), a * (1 - 2 * x) * s
    return x, s


def _logistic_updated_first(x0, a, n):
    x = x0 + torch.zeros_like(a)
    s = torch.zeros_like(x)
    for _ in range(n):
        x = a * x * (1 - x)
        s = x * (1 - x) + a * (1 - 2 * x) * s
    return x, s


def _logistic_wrong_slope(x0, a, n):
    x = x0 + torch.zeros_like(a)
    s = torch.zeros_like(x)
    for _ in range(n):
        x, s = a * x * (1 - x), x * (1 - x) + a * (1 - x) * s
    return x, s


def _logistic_case(
    n_values: int, dtype=torch.float64, lo: float = 2.6, hi: float = 3.9
):
    return (
        torch.tensor(0.3, dtype=dtype),
        torch.linspace(lo, hi, n_values, dtype=dtype),
    )


ex_logistic_param_derivative = Exercise(
    name="logistic_param_derivative",
    reference=_logistic_reference,
    result_names=("x_n", "dx_n_da"),
    # n is passed by position, as the exercise writes the call: an answer
    # that names it otherwise still runs
    cases=[
        Case(
            "x0 = 0.3, eight values of a from 2.6 to 3.9, n = 1",
            (*_logistic_case(8), 1),
        ),
        Case(
            "x0 = 0.3, eight values of a from 2.6 to 3.9, n = 20",
            (*_logistic_case(8), 20),
        ),
        Case(
            "a in the chaotic range 3.6 to 4, n = 30",
            (*_logistic_case(5, lo=3.6, hi=4.0), 30),
        ),
        Case(
            "a batch of starting points x0 at a = 3.2, n = 15",
            (
                torch.linspace(0.1, 0.9, 7, dtype=torch.float64),
                torch.tensor(3.2, dtype=torch.float64),
                15,
            ),
        ),
        Case(
            "float32, a from 2.6 to 3.3 (no chaos), n = 20",
            (*_logistic_case(6, dtype=torch.float32, hi=3.3), 20),
        ),
    ],
    hints=[
        "Carry two numbers along the orbit: x_k and its derivative "
        "s_k = dx_k/da, "
        "starting from x_0 (which does not depend on a) and s_0 = 0. One loop "
        "over the n iterations, with tensor operations over all values of a.",
        "Differentiate x_{k+1} = a x_k (1 - x_k) with the product rule: "
        "a appears explicitly and through x_k, "
        "so s_{k+1} = x_k (1 - x_k) + a (1 - 2 x_k) s_k, "
        "evaluated at the old x_k before you update it.",
    ],
    solution=_logistic_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _logistic_only_direct,
            "only the last step's explicit dependence on a is there: a also "
            "changes every earlier x_k, and that change is carried forward.",
        ),
        Mistake(
            _logistic_only_chain,
            "the derivative only propagates an initial sensitivity through "
            "the chain: x_0 does not depend on a, and every step adds its "
            "own explicit term.",
        ),
        Mistake(
            _logistic_updated_first,
            "the derivative step uses x_{k+1} where it needs x_k: compute "
            "it from the value before the update.",
        ),
        Mistake(
            _logistic_wrong_slope,
            "the slope of q with respect to x is a (1 - 2 x), not a (1 - x).",
        ),
    ],
    forbidden=_no_autograd("carry the derivative along the orbit by hand."),
    loop_free=LoopFree(
        lambda n: (*_logistic_case(n), 10),
        sizes=(4, 16),
        what="the values of a",
    ),
)
