"""Chapter 14: the hand-written RNN forward pass, BPTT and LSTM cell against PyTorch's RNN, autograd and LSTMCell,
and the cost of BPTT against the sequence length."""
import math

import torch
import torch.nn.functional as F

from benchmarks.cases import CONV_RECURRENT_GOAL, RatioCase, ScalingCase

CHAPTER = "14_rnn_lstm"
INPUTS, HIDDEN, CLASSES, LENGTH = 28, 128, 28, 32  # the language model's sizes, a shorter window


def rnn_problem(size: int, generator: torch.Generator) -> tuple:
    """(x, k, h0, W, U, V): ``size`` sequences of LENGTH one-hot-sized inputs, targets and float64 weights."""
    x = torch.randn(size, LENGTH, INPUTS, generator=generator, dtype=torch.float64)
    k = torch.randint(CLASSES, (size, LENGTH), generator=generator)
    h0 = torch.zeros(size, HIDDEN, dtype=torch.float64)
    W = torch.randn(HIDDEN, HIDDEN, generator=generator, dtype=torch.float64) / math.sqrt(HIDDEN)
    U = torch.randn(HIDDEN, INPUTS, generator=generator, dtype=torch.float64) / math.sqrt(INPUTS)
    V = torch.randn(CLASSES, HIDDEN, generator=generator, dtype=torch.float64) / math.sqrt(HIDDEN)
    return x, k, h0, W, U, V


def rnn_problem_of_length(length: int, generator: torch.Generator) -> tuple:
    """rnn_problem with 64 sequences of ``length`` steps."""
    x, k, h0, W, U, V = rnn_problem(64, generator)
    x = torch.randn(64, length, INPUTS, generator=generator, dtype=torch.float64)
    k = torch.randint(CLASSES, (64, length), generator=generator)
    return x, k, h0, W, U, V


def _torch_rnn(W, U):
    rnn = torch.nn.RNN(U.shape[1], W.shape[0], bias=False, batch_first=True, dtype=W.dtype)
    return rnn, {"weight_hh_l0": W, "weight_ih_l0": U}


def torch_states(x, k, h0, W, U, V):
    """States of torch.nn.RNN with the same weights."""
    rnn, weights = _torch_rnn(W, U)
    with torch.no_grad():
        return torch.func.functional_call(rnn, weights, (x, h0[None]))[0]


def ours_states(ch):
    return lambda x, k, h0, W, U, V: ch.rnn_forward(x, h0, W, U, V)[1]


def autograd_bptt(x, k, h0, W, U, V):
    """(grad_W, grad_U, grad_V, grad_h0) by autograd through torch.nn.RNN."""
    leaves = [p.clone().requires_grad_() for p in (W, U, V, h0)]
    rnn, _ = _torch_rnn(W, U)
    states, _ = torch.func.functional_call(rnn, {"weight_hh_l0": leaves[0], "weight_ih_l0": leaves[1]},
                                           (x, leaves[3][None]))
    loss = F.cross_entropy((states @ leaves[2].T).reshape(-1, V.shape[0]), k.reshape(-1), reduction="sum")
    return torch.autograd.grad(loss / x.shape[0], leaves)


def lstm_problem(size: int, generator: torch.Generator) -> tuple:
    """(x, h, c, W, U, b) for one LSTM step of a batch of ``size``, float32."""
    x = torch.randn(size, INPUTS, generator=generator)
    h, c = torch.randn(2, size, HIDDEN, generator=generator)
    W = torch.randn(4 * HIDDEN, HIDDEN, generator=generator) / math.sqrt(HIDDEN)
    U = torch.randn(4 * HIDDEN, INPUTS, generator=generator) / math.sqrt(INPUTS)
    b = torch.randn(4 * HIDDEN, generator=generator) / math.sqrt(HIDDEN)
    return x, h, c, W, U, b


def torch_lstm_cell(x, h, c, W, U, b):
    """torch.nn.LSTMCell's kernel with the same weights (one bias vector, the other zero)."""
    with torch.no_grad():
        return torch.lstm_cell(x, (h, c), U, W, b, torch.zeros_like(b))


RATIOS = [
    RatioCase("RNN forward (rnn_forward) vs torch.nn.RNN", ours_states, torch_states, rnn_problem, size=256,
              goal=CONV_RECURRENT_GOAL, rtol=1e-10),
    RatioCase("BPTT by hand (rnn_bptt) vs autograd through torch.nn.RNN", "rnn_bptt", autograd_bptt,
              rnn_problem, size=256, goal=CONV_RECURRENT_GOAL, rtol=1e-10),
    RatioCase("LSTM cell (lstm_cell) vs torch.lstm_cell", "lstm_cell", torch_lstm_cell, lstm_problem,
              size=1024, goal=CONV_RECURRENT_GOAL, rtol=1e-5),
]

SCALING = [
    ScalingCase("BPTT vs sequence length", variable="T", sizes=[16, 32, 64, 128], inputs=rnn_problem_of_length,
                functions={"rnn_bptt (ours)": "rnn_bptt"}, expected_slopes={"rnn_bptt (ours)": 1},
                note="one forward and one backward step per time step: O(T)"),
]
