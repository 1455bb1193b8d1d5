"""Exercises of the chapter "Recurrent networks, BPTT and LSTMs".

The references are torch's own code, never the chapter's: autograd through
``torch.nn.RNN``, run window by window with the carried state detached, for
truncated backpropagation through time, and autograd through the
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


# ------------------------------------------------------ 1. truncated BPTT


def _truncated_bptt_reference(x, h0, W, U, grad_h, window):
    """(grad_W, grad_U, grad_h0) of sum(grad_h * H) by autograd, where H are
    the states of nn.RNN run window by window, each window starting from the
    previous window's last state detached (h0 itself is not detached)."""
    d, m = x.shape[-1], W.shape[0]
    rnn = torch.nn.RNN(d, m, bias=False, batch_first=True, dtype=x.dtype)
    W_, U_, h0_ = (t.detach().clone().requires_grad_(True) for t in (W, U, h0))
    weights = {"weight_hh_l0": W_, "weight_ih_l0": U_}
    chunks, h = [], h0_
    for start in range(0, x.shape[1], window):
        states, last = torch.func.functional_call(
            rnn, weights, (x[:, start : start + window], h[None])
        )
        chunks.append(states)
        h = last[0].detach()  # the cut: no error flows into the window before
    return torch.autograd.grad(torch.cat(chunks, dim=1), (W_, U_, h0_), grad_h)


def _forward(x, h0, W, U):
    hs, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        hs.append(h)
    return torch.stack(hs, dim=1)


def _backward(x, h0, W, U, grad_h, cut=lambda t: False, keep_h0=True):
    """BPTT whose recursion drops the error coming back from step t + 1 where
    cut(t) holds (t counts from 0); the switches produce the mistakes."""
    h = _forward(x, h0, W, U)
    h_prev = torch.cat([h0[:, None], h[:, :-1]], dim=1)
    z_bar = torch.zeros_like(h)
    carried = torch.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        if cut(t):
            carried = torch.zeros_like(carried)
        carried = (grad_h[:, t] + carried @ W) * (1 - h[:, t] ** 2)
        z_bar[:, t] = carried
    grad_W = torch.einsum("btm,btn->mn", z_bar, h_prev)
    grad_U = torch.einsum("btm,btd->md", z_bar, x)
    grad_h0 = z_bar[:, 0] @ W if keep_h0 else torch.zeros_like(h0)
    return grad_W, grad_U, grad_h0


def _truncated_bptt_solution(x, h0, W, U, grad_h, window):
    """Truncated BPTT for h_t = tanh(W h_{t-1} + U x_t), windows of `window`
    steps counted from the start of the sequence.

    The backward recursion of full BPTT, h_bar_t = grad_h[:, t] + z_bar_{t+1} W
    and z_bar_t = h_bar_t * (1 - h_t ** 2), except that the error z_bar_{t+1}
    is dropped where step t + 1 starts a new window: the state that enters a
    window is a constant for it. h0 enters the first window and is not cut.
    """
    T = x.shape[1]
    states, h = [], h0
    for t in range(T):
        h = torch.tanh(h @ W.T + x[:, t] @ U.T)
        states.append(h)
    grad_W, grad_U = torch.zeros_like(W), torch.zeros_like(U)
    z_bar_next = torch.zeros_like(h0)
    for t in reversed(range(T)):
        if (t + 1) % window == 0:  # step t + 1 (0-based) starts a window
            z_bar_next = torch.zeros_like(h0)
        h_bar = grad_h[:, t] + z_bar_next @ W
        z_bar = h_bar * (1 - states[t] ** 2)
        h_prev = states[t - 1] if t > 0 else h0
        grad_W = grad_W + z_bar.T @ h_prev
        grad_U = grad_U + z_bar.T @ x[:, t]
        z_bar_next = z_bar
    return grad_W, grad_U, z_bar_next @ W


def _not_truncated(x, h0, W, U, grad_h, window):
    return _backward(x, h0, W, U, grad_h)


def _cut_one_step_early(x, h0, W, U, grad_h, window):
    return _backward(x, h0, W, U, grad_h, cut=lambda t: t % window == 0)


def _windows_from_the_end(x, h0, W, U, grad_h, window):
    T = x.shape[1]
    return _backward(
        x, h0, W, U, grad_h, cut=lambda t: (T - 1 - t) % window == 0
    )


def _h0_treated_as_cut(x, h0, W, U, grad_h, window):
    return _backward(
        x, h0, W, U, grad_h, cut=lambda t: (t + 1) % window == 0,
        keep_h0=False,
    )


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


ex_truncated_bptt = Exercise(
    name="truncated_bptt",
    reference=_truncated_bptt_reference,
    result_names=("grad_W", "grad_U", "grad_h0"),
    # window is passed by position, as the exercise writes the call
    cases=[
        Case(
            "2 sequences of 12 steps, windows of 4 (three whole windows)",
            (*_rnn_case(2, length=12), 4),
        ),
        Case(
            "3 sequences of 10 steps, windows of 4 (the last has 2 steps)",
            (*_rnn_case(3, length=10), 4),
        ),
        Case(
            "a window longer than the sequence (7 steps, window 9)",
            (*_rnn_case(2, length=7), 9),
        ),
        Case(
            "windows of 1 step (every state is cut)",
            (*_rnn_case(2, length=5), 1),
        ),
        Case(
            "a batch of 5, 11 steps, windows of 3, a large W (saturated tanh)",
            (*_rnn_case(5, length=11, scale=3.0), 3),
        ),
        Case(
            "float32 input, 9 steps, windows of 5",
            (*_rnn_case(3, length=9, dtype=torch.float32), 5),
        ),
    ],
    hints=[
        "Run the forward pass over the whole sequence and keep every state. "
        "Then run the backward recursion of full BPTT, (14.4) and (14.5) with "
        "grad_h as the output path, from the last step down; the only change "
        "is that at a window boundary the error coming back from the next "
        "window is dropped.",
        "Count the steps t = 0, ..., T - 1 from the start. Windows start at "
        "t = 0, window, 2 window, ...; so before computing z_bar at step t, "
        "set the carried error to zero when (t + 1) % window == 0. h0 is the "
        "state entering the first window, which is not cut: grad_h0 is still "
        "the last carried error times W.",
    ],
    solution=_truncated_bptt_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _not_truncated,
            "this is the gradient of full BPTT: the error must stop at the "
            "start of each window instead of flowing into the window before.",
        ),
        Mistake(
            _cut_one_step_early,
            "the cut is one step off: the error that stops is the one the "
            "first step of a window would send to the last state of the "
            "window before.",
        ),
        Mistake(
            _windows_from_the_end,
            "the windows are counted from the end of the sequence: they start "
            "at its first step, so when T is not a multiple of the window it "
            "is the last window that is shorter.",
        ),
        Mistake(
            _h0_treated_as_cut,
            "grad_h0 is zero: h0 is the state entering the first window and "
            "nothing cuts it off, so the first window's error reaches it "
            "through W.",
        ),
    ],
    forbidden=_no_autograd(
        "derive the backward recursion by hand and "
        "write it with tensor operations."
    ),
    loop_free=LoopFree(
        lambda n: (*_rnn_case(n, length=6), 4), sizes=(4, 16), what="the batch"
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

    x_{j+1} = a x_j (1 - x_j), so by the product rule
    d_{j+1} = x_j (1 - x_j) + a (1 - 2 x_j) d_j with d_0 = 0,
    where d_j = dx_j/da.
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
        "Carry two numbers along the orbit: x_j and its derivative "
        "d_j = dx_j/da, "
        "starting from x_0 (which does not depend on a) and d_0 = 0. One loop "
        "over the n iterations, with tensor operations over all values of a.",
        "Differentiate x_{j+1} = a x_j (1 - x_j) with the product rule: "
        "a appears explicitly and through x_j, "
        "so d_{j+1} = x_j (1 - x_j) + a (1 - 2 x_j) d_j, "
        "evaluated at the old x_j before you update it.",
    ],
    solution=_logistic_solution,
    rtol=1e-5,
    mistakes=[
        Mistake(
            _logistic_only_direct,
            "only the last step's explicit dependence on a is there: a also "
            "changes every earlier x_j, and that change is carried forward.",
        ),
        Mistake(
            _logistic_only_chain,
            "the derivative only propagates an initial sensitivity through "
            "the chain: x_0 does not depend on a, and every step adds its "
            "own explicit term.",
        ),
        Mistake(
            _logistic_updated_first,
            "the derivative step uses x_{j+1} where it needs x_j: compute "
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
