"""Chapter 4: the hand-written MLP backward pass and the chapter's autograd engine against PyTorch's autograd,
and the dense Jacobian (one VJP per output) against a single VJP as the batch grows."""
import math

import torch
import torch.nn.functional as F

from benchmarks.cases import ELEMENTWISE_GOAL, RatioCase, ScalingCase

CHAPTER = "04_backprop_jacobians"
INPUTS, HIDDEN, CLASSES = 64, 256, 10  # digits-sized inputs and classes, a wider hidden layer than the chapter's
# The two-layer map f: R^n -> R^m, applied to every example; wide enough that one example's work outweighs
# the fixed cost of a torch.func.vjp call (~0.1 ms), so the slopes show the work, not the overhead.
MAP_INPUTS, MAP_WIDTH, MAP_OUTPUTS = 1024, 1024, 1


def mlp_problem(size: int, generator: torch.Generator) -> tuple:
    """He-initialised parameters (a dict of float64 NumPy arrays), a batch X (size, 64) and one-hot T (size, 10)."""
    def normal(*shape, std):
        return (std * torch.randn(*shape, generator=generator, dtype=torch.float64)).numpy()

    params = {"W1": normal(HIDDEN, INPUTS, std=math.sqrt(2 / INPUTS)), "b1": normal(HIDDEN, std=0.1),
              "W2": normal(CLASSES, HIDDEN, std=math.sqrt(2 / HIDDEN)), "b2": normal(CLASSES, std=0.1)}
    labels = torch.randint(CLASSES, (size,), generator=generator)
    return params, normal(size, INPUTS, std=1.0), F.one_hot(labels, CLASSES).to(torch.float64).numpy()


def autograd_mlp_grads(params: dict, X, T) -> dict:
    """The gradients of the mean cross-entropy w.r.t. every parameter, by PyTorch's forward and autograd."""
    tensors = {name: torch.from_numpy(value).requires_grad_() for name, value in params.items()}
    hidden = F.relu(F.linear(torch.from_numpy(X), tensors["W1"], tensors["b1"]))
    loss = F.cross_entropy(F.linear(hidden, tensors["W2"], tensors["b2"]), torch.from_numpy(T))
    return dict(zip(tensors, torch.autograd.grad(loss, list(tensors.values())), strict=True))


def by_hand(ch):
    """The chapter's mlp_forward followed by its mlp_backward."""
    def grads(params, X, T):
        Z, cache = ch.mlp_forward(params, X)
        return ch.mlp_backward(params, Z, cache, T)
    return grads


def by_engine(ch):
    """The chapter's own autograd engine: build the graph with Node operations, then ch.backward."""
    def grads(params, X, T):
        nodes = {name: ch.Node(value, name=name) for name, value in params.items()}
        ch.backward(ch.mlp_loss_engine(ch.Node(X, name="X"), T, **nodes))
        return {name: node.grad for name, node in nodes.items()}
    return grads


def batched_map(size: int, generator: torch.Generator) -> tuple:
    """f(x) = W2 tanh(W1 x) on each of ``size`` examples, as one function of the flattened batch, and a batch."""
    W1 = torch.randn(MAP_WIDTH, MAP_INPUTS, generator=generator) / math.sqrt(MAP_INPUTS)
    W2 = torch.randn(MAP_OUTPUTS, MAP_WIDTH, generator=generator) / math.sqrt(MAP_WIDTH)

    def f(x):
        return (torch.tanh(x.view(size, MAP_INPUTS) @ W1.T) @ W2.T).flatten()

    return f, torch.randn(size * MAP_INPUTS, generator=generator)


def one_vjp(f, x):
    """One reverse-mode pass: the gradient of the sum of f's outputs."""
    y, pullback = torch.func.vjp(f, x)
    return pullback(torch.ones_like(y))[0]


RATIOS = [
    RatioCase("MLP backward by hand (mlp_forward + mlp_backward) vs autograd", by_hand, autograd_mlp_grads,
              mlp_problem, size=1024, goal=ELEMENTWISE_GOAL, rtol=1e-10),
    RatioCase("MLP gradients by the chapter's autograd engine (Node, backward) vs autograd", by_engine,
              autograd_mlp_grads, mlp_problem, size=1024, goal=ELEMENTWISE_GOAL, rtol=1e-10),
]

SCALING = [
    ScalingCase(
        "dense Jacobian vs one vector-Jacobian product", variable="batch", sizes=[16, 32, 64, 128],
        inputs=batched_map,
        functions={"dense Jacobian (jacobian_by_vjps)": lambda ch: ch.jacobian_by_vjps,
                   "one VJP (torch.func.vjp)": lambda ch: one_vjp},
        expected_slopes={"dense Jacobian (jacobian_by_vjps)": 2, "one VJP (torch.func.vjp)": 1},
        note=f"f(x) = W₂ tanh(W₁ x) from R^{MAP_INPUTS} to R^{MAP_OUTPUTS} on every example of the batch. "
             "The Jacobian of the whole batch has m × batch rows, one VJP over the whole batch each: batch² "
             "work, almost all of it on zero blocks. One VJP, which is what backpropagation needs for a "
             "scalar loss, grows like the batch. Both fitted slopes sit a little below the counts because "
             "a larger batch keeps the matrix kernels busier."),
]
