"""Chapter 4's own definitions on float32 and float64 inputs and at ±inf, against PyTorch.

The chapter's functions are loaded from the notebook's ``definitions`` cells
(``nbutils.notebook.load_definitions``) and run on inputs the chapter never
shows. Each test asks three things of a function: float32 in gives float32 out
(and float64 stays float64), the values agree with torch, and there is no NaN
where torch is finite. Infinite inputs are used where the function is defined
there (sigmoid, tanh and ReLU at ±inf, log-sum-exp of rows holding ±inf,
cross-entropy with a logit of -inf for a class that is not the target).
"""
from __future__ import annotations

import math
import signal

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nbutils.notebook import load_definitions

STEM = "04_backprop_jacobians"
DTYPES = [torch.float32, torch.float64]
NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}
INF = math.inf


@pytest.fixture(scope="module")
def bp():
    return load_definitions(STEM)


@pytest.fixture
def float64_default():
    """The chapter's own setting: torch.set_default_dtype(torch.float64)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def as_tensor(value) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))


def assert_matches(ours, reference: torch.Tensor, dtype: torch.dtype, what: str, rtol: float | None = None) -> None:
    """Same dtype, same non-finite entries, no NaN where torch is finite, finite entries close."""
    ours, reference = as_tensor(ours), reference.detach()
    assert ours.dtype == dtype, f"{what}: dtype {ours.dtype}, expected {dtype}"
    assert ours.shape == reference.shape, f"{what}: shape {tuple(ours.shape)}, torch {tuple(reference.shape)}"
    finite = torch.isfinite(reference)
    assert not torch.isnan(ours[finite]).any(), f"{what}: NaN where torch is finite ({ours} vs {reference})"
    assert torch.equal(torch.isnan(ours), torch.isnan(reference)), f"{what}: NaN elsewhere ({ours} vs {reference})"
    infinite = torch.isinf(reference)
    assert torch.equal(ours[infinite], reference[infinite]), f"{what}: infinities differ ({ours} vs {reference})"
    # Entries far below the values' scale (1 - tanh(x)^2 near |x| = 5) carry the round-off of the large ones:
    # they are held to the tolerance in absolute terms, relative to the scale.
    tol = rtol if rtol is not None else RTOL[dtype]
    scale = float(reference[finite].abs().max()) if finite.any() else 1.0
    torch.testing.assert_close(ours[finite].double(), reference[finite].double(), rtol=tol, atol=tol * scale,
                               msg=lambda m: f"{what}: {m}")


def engine_value_and_grad(bp, op, x: torch.Tensor, weights: torch.Tensor):
    """The engine's op(x), and the gradient of sum(weights * op(x)) by the engine's backward."""
    node = bp.Node(x.numpy())
    out = op(node)
    bp.backward(bp.reduce_sum(bp.mul(out, weights.numpy())))
    return out.value, node.grad


def torch_value_and_grad(op, x: torch.Tensor, weights: torch.Tensor):
    leaf = x.clone().requires_grad_()
    out = op(leaf)
    (grad,) = torch.autograd.grad((out * weights).sum(), leaf)
    return out, grad


# --------------------------------------------------------------------------- the engine, element-wise

UNARY = {
    "log": (lambda bp: bp.log, torch.log, (0.1, 5.0)),
    "sin": (lambda bp: bp.sin, torch.sin, (-4.0, 4.0)),
    "tanh": (lambda bp: bp.tanh, torch.tanh, (-5.0, 5.0)),
    "sigmoid": (lambda bp: bp.sigmoid, torch.sigmoid, (-30.0, 30.0)),
    "relu": (lambda bp: bp.relu, torch.relu, (-2.0, 2.0)),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(UNARY))
def test_engine_elementwise_ops_match_torch(bp, name, dtype):
    ours_op, torch_op, (low, high) = UNARY[name]
    g = torch.Generator().manual_seed(4)
    x = (low + (high - low) * torch.rand(3, 5, generator=g, dtype=torch.float64)).to(dtype)
    weights = torch.randn(3, 5, generator=g, dtype=torch.float64).to(dtype)
    value, grad = engine_value_and_grad(bp, ours_op(bp), x, weights)
    ref_value, ref_grad = torch_value_and_grad(torch_op, x, weights)
    assert_matches(value, ref_value, dtype, f"engine {name}")
    assert_matches(grad, ref_grad, dtype, f"engine {name} gradient")


EXTREMES = [-INF, -1e300, -800.0, -100.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0, 1e300, INF]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu"])
def test_engine_elementwise_ops_at_extremes_and_infinity(bp, name, dtype):
    ours_op, torch_op, _ = UNARY[name]
    x = torch.tensor(EXTREMES, dtype=torch.float64).to(dtype)  # 1e300 is inf in float32
    weights = torch.ones_like(x)
    value, grad = engine_value_and_grad(bp, ours_op(bp), x, weights)
    ref_value, ref_grad = torch_value_and_grad(torch_op, x, weights)
    # Tails are compared relatively: sigmoid(-40) is 4.2e-18, not 0.
    assert_matches(value, ref_value, dtype, f"engine {name} at extremes", rtol=RTOL[dtype] * 10)
    assert_matches(grad, ref_grad, dtype, f"engine {name} gradient at extremes", rtol=RTOL[dtype] * 10)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_engine_sigmoid_keeps_its_tail(bp, dtype):
    """exp(a) / (1 + exp(a)) for a < 0, not 0: the tanh form rounds to exactly 0 below about -37."""
    points = (-40.0, -80.0) if dtype == torch.float32 else (-40.0, -300.0, -700.0)
    x = torch.tensor(points, dtype=dtype)
    node = bp.Node(x.numpy())
    out = bp.sigmoid(node)
    bp.backward(bp.reduce_sum(out))
    leaf = x.clone().requires_grad_()
    reference = torch.sigmoid(leaf)
    reference.sum().backward()
    for what, ours, ref in (("sigmoid", out.value, reference), ("its gradient", node.grad, leaf.grad)):
        ours = as_tensor(ours)
        assert ours.dtype == dtype and (ours > 0).all(), f"{what} at {points}: {ours}"
        torch.testing.assert_close(ours, ref.detach(), rtol=RTOL[dtype] * 10, atol=0)


# --------------------------------------------------------------------------- the engine, binary ops and reductions

BINARY = {
    "add": lambda bp: bp.add,
    "sub": lambda bp: bp.sub,
    "mul": lambda bp: bp.mul,
}
TORCH_BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(BINARY))
def test_engine_binary_ops_with_broadcasting_match_torch(bp, name, dtype):
    g = torch.Generator().manual_seed(5)
    a = torch.randn(4, 3, generator=g, dtype=torch.float64).to(dtype)
    b = torch.randn(3, generator=g, dtype=torch.float64).to(dtype)  # broadcast over the rows
    weights = torch.randn(4, 3, generator=g, dtype=torch.float64).to(dtype)
    a_node, b_node = bp.Node(a.numpy()), bp.Node(b.numpy())
    out = BINARY[name](bp)(a_node, b_node)
    bp.backward(bp.reduce_sum(bp.mul(out, weights.numpy())))
    a_leaf, b_leaf = a.clone().requires_grad_(), b.clone().requires_grad_()
    reference = TORCH_BINARY[name](a_leaf, b_leaf)
    (reference * weights).sum().backward()
    assert_matches(out.value, reference, dtype, f"engine {name}")
    assert_matches(a_node.grad, a_leaf.grad, dtype, f"engine {name}: gradient of the first operand")
    assert_matches(b_node.grad, b_leaf.grad, dtype, f"engine {name}: gradient of the broadcast operand")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_engine_python_numbers_keep_the_dtype(bp, dtype):
    """2 * x, 1 - x and mean(x): a Python number takes the dtype of the node it meets, as in torch."""
    x = torch.tensor([0.5, -1.5, 2.0], dtype=dtype)
    node = bp.Node(x.numpy())
    for what, out in (("2 * x", 2 * node), ("1 - x", 1 - node), ("x + 0.5", node + 0.5),
                      ("mean(x)", bp.mean(node)), ("logistic map", bp.logistic_map(node, 3))):
        assert out.value.dtype == NP_DTYPES[dtype], f"{what}: {out.value.dtype} from {dtype}"
    out = bp.logistic_map(node * 0.1, 3)
    bp.backward(bp.reduce_sum(out))
    leaf = x.clone().requires_grad_()
    reference = bp.logistic_map(leaf * 0.1, 3)
    reference.sum().backward()
    assert_matches(out.value, reference, dtype, "logistic map on nodes")
    assert_matches(node.grad, leaf.grad, dtype, "logistic map gradient by the engine")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_engine_matmul_transpose_and_reduce_sum_match_torch(bp, dtype):
    g = torch.Generator().manual_seed(6)
    A = torch.randn(5, 4, generator=g, dtype=torch.float64).to(dtype)
    B = torch.randn(3, 4, generator=g, dtype=torch.float64).to(dtype)
    A_node, B_node = bp.Node(A.numpy()), bp.Node(B.numpy())
    out = bp.reduce_sum(bp.tanh(A_node @ bp.transpose(B_node)), axis=1)
    bp.backward(bp.reduce_sum(out))
    A_leaf, B_leaf = A.clone().requires_grad_(), B.clone().requires_grad_()
    reference = torch.tanh(A_leaf @ B_leaf.T).sum(dim=1)
    reference.sum().backward()
    assert_matches(out.value, reference, dtype, "engine matmul + transpose + sum")
    assert_matches(A_node.grad, A_leaf.grad, dtype, "engine matmul: gradient of A")
    assert_matches(B_node.grad, B_leaf.grad, dtype, "engine matmul: gradient of B (through transpose)")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_engine_logsumexp_of_rows_with_infinities_matches_torch(bp, dtype):
    rows = torch.tensor([[-INF, -INF, -INF], [INF, 1.0, 2.0], [-INF, 0.0, 1.0], [1000.0, -1000.0, 999.0],
                         [-1e4, -1e4 + 1, -1e4 + 2]], dtype=dtype)
    node = bp.Node(rows.numpy())
    out = bp.logsumexp(node)
    with np.errstate(invalid="ignore"):  # the sum of the rows' values is inf + (-inf)
        bp.backward(bp.reduce_sum(out))
    # The reference runs in float64: in float32, torch's gradient exp(a - logsumexp(a)) loses digits at |a| = 1e4.
    leaf = rows.double().requires_grad_()
    reference = torch.logsumexp(leaf, dim=-1)
    reference.sum().backward()
    assert_matches(out.value, reference.to(dtype), dtype, "engine logsumexp")
    assert_matches(node.grad, leaf.grad.to(dtype), dtype, "engine logsumexp gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_engine_cross_entropy_with_a_logit_of_minus_infinity(bp, dtype):
    """A class that is impossible (logit -inf) and is not the target: torch's loss and gradient are finite."""
    Z = torch.tensor([[-INF, 0.0, 1.0], [2.0, -INF, 0.5], [1e4, 0.0, -1e4]], dtype=dtype)
    labels = torch.tensor([2, 0, 0])
    T = np.eye(3)[labels.numpy()]  # float64 one-hot targets, as in the chapter
    node = bp.Node(Z.numpy())
    loss = bp.cross_entropy(node, T)
    bp.backward(loss)
    leaf = Z.clone().requires_grad_()
    reference = F.cross_entropy(leaf, labels)
    reference.backward()
    assert_matches(loss.value, reference, dtype, "engine cross_entropy")
    assert_matches(node.grad, leaf.grad, dtype, "engine cross_entropy gradient")


def test_engine_mlp_loss_in_float32(bp):
    g = torch.Generator().manual_seed(7)
    X = torch.rand(6, 8, generator=g)
    params = {"W1": torch.randn(5, 8, generator=g), "b1": torch.randn(5, generator=g),
              "W2": torch.randn(3, 5, generator=g), "b2": torch.randn(3, generator=g)}
    labels = torch.tensor([0, 2, 1, 1, 0, 2])
    nodes = {name: bp.Node(value.numpy()) for name, value in params.items()}
    loss = bp.mlp_loss_engine(bp.Node(X.numpy()), np.eye(3)[labels.numpy()], **nodes)
    bp.backward(loss)
    leaves = {name: value.clone().requires_grad_() for name, value in params.items()}
    hidden = torch.relu(X @ leaves["W1"].T + leaves["b1"])
    reference = F.cross_entropy(hidden @ leaves["W2"].T + leaves["b2"], labels)
    reference.backward()
    assert_matches(loss.value, reference, torch.float32, "engine MLP loss")
    for name, leaf in leaves.items():
        assert_matches(nodes[name].grad, leaf.grad, torch.float32, f"engine MLP gradient of {name}")


# --------------------------------------------------------------------------- the MLP by hand

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mlp_forward_backward_and_cost_keep_the_dtype(bp, dtype):
    rng = np.random.default_rng(8)
    params = {name: value.astype(NP_DTYPES[dtype]) for name, value in bp.init_mlp(7, 6, 4, rng).items()}
    params["b1"] += NP_DTYPES[dtype](0.1)
    X = rng.normal(size=(9, 7)).astype(NP_DTYPES[dtype])
    labels = rng.integers(0, 4, 9)
    T = np.eye(4, dtype=NP_DTYPES[dtype])[labels]
    Z, cache = bp.mlp_forward(params, X)
    cost = bp.mlp_cost(Z, T)
    grads = bp.mlp_backward(params, Z, cache, T)
    leaves = {name: torch.from_numpy(value.copy()).requires_grad_() for name, value in params.items()}
    hidden = torch.relu(torch.from_numpy(X) @ leaves["W1"].T + leaves["b1"])
    logits = hidden @ leaves["W2"].T + leaves["b2"]
    reference = F.cross_entropy(logits, torch.from_numpy(labels))
    reference.backward()
    assert_matches(Z, logits, dtype, "mlp_forward logits")
    assert_matches(np.asarray(cost), reference, dtype, "mlp_cost")
    for name, leaf in leaves.items():
        assert_matches(grads[name], leaf.grad, dtype, f"mlp_backward: gradient of {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mlp_cost_with_a_logit_of_minus_infinity(bp, dtype):
    Z = np.array([[-INF, 0.0, 1.0], [2.0, -INF, 0.5]], dtype=NP_DTYPES[dtype])
    labels = torch.tensor([2, 0])
    T = np.eye(3, dtype=NP_DTYPES[dtype])[labels.numpy()]
    reference = F.cross_entropy(torch.from_numpy(Z), labels)
    assert_matches(np.asarray(bp.mlp_cost(Z, T)), reference, dtype, "mlp_cost with a -inf logit")
    softmax = bp.softmax_rows(Z)
    assert_matches(softmax, torch.softmax(torch.from_numpy(Z), dim=1), dtype, "softmax_rows with a -inf logit")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_softmax_rows_matches_torch_at_infinity(bp, dtype):
    Z = np.array([[INF, 1.0, 2.0], [-INF, -INF, 0.0], [1e4, -1e4, 0.0], [-INF, -INF, -INF]], dtype=NP_DTYPES[dtype])
    with np.errstate(invalid="ignore"):  # inf - inf and 0 / 0, as in torch
        ours = bp.softmax_rows(Z)
    assert_matches(ours, torch.softmax(torch.from_numpy(Z), dim=1), dtype, "softmax_rows")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sigmoid_vjp_and_linear_vjp_match_autograd(bp, dtype):
    g = torch.Generator().manual_seed(9)
    x = torch.tensor([-INF, -40.0, -1.0, 0.0, 2.0, INF], dtype=dtype)
    grad_y = torch.randn(6, generator=g, dtype=torch.float64).to(dtype)
    leaf = x.clone().requires_grad_()
    y = torch.sigmoid(leaf)
    y.backward(grad_y)
    assert_matches(bp.sigmoid_vjp(y.detach(), grad_y), leaf.grad, dtype, "sigmoid_vjp at ±inf")
    X, W, b = (torch.randn(*s, generator=g, dtype=torch.float64).to(dtype) for s in ((5, 4), (3, 4), (3,)))
    grad_Z = torch.randn(5, 3, generator=g, dtype=torch.float64).to(dtype)
    leaves = [t.clone().requires_grad_() for t in (X, W, b)]
    (leaves[0] @ leaves[1].T + leaves[2]).backward(grad_Z)
    for what, ours, leaf in zip(("X", "W", "b"), bp.linear_vjp(X, W, grad_Z), leaves, strict=True):
        assert_matches(ours, leaf.grad, dtype, f"linear_vjp: gradient of {what}")


# --------------------------------------------------------------------------- differences, dual numbers, Jacobians

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_difference_quotients_keep_the_dtype(bp, dtype):
    x = torch.tensor([0.5, 1.0, 2.0], dtype=dtype)
    h = torch.tensor(1e-2 if dtype == torch.float32 else 1e-5, dtype=dtype)
    for difference, rtol in ((bp.forward_difference, 2e-2), (bp.central_difference, 1e-4)):
        ours = difference(torch.exp, x, h)
        assert_matches(ours, torch.exp(x), dtype, difference.__name__, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dual_numbers_keep_the_dtype(bp, dtype):
    x1 = np.array([2.0, 0.5], dtype=NP_DTYPES[dtype])
    x2 = np.array([5.0, -1.0], dtype=NP_DTYPES[dtype])
    ones, zeros = np.ones_like(x1), np.zeros_like(x1)
    out = bp.example_f(bp.Dual(x1, ones), bp.Dual(x2, zeros), bp.dual_log, bp.dual_sin)
    assert out.value.dtype == out.tangent.dtype == NP_DTYPES[dtype]
    assert_matches(out.tangent, torch.from_numpy(1 / x1 + x2), dtype, "dual numbers: df/dx1")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_jacobians_by_jvps_and_vjps_keep_the_dtype_under_a_float64_default(bp, float64_default, dtype):
    """The chapter sets the default dtype to float64; a float32 map and input must still work."""
    f, _, _ = bp.make_two_layer_map(4, 3, width=8, seed=1, dtype=dtype)
    x = torch.linspace(-1, 1, 4, dtype=dtype)
    reference = torch.func.jacrev(f)(x)
    assert_matches(bp.jacobian_by_jvps(f, x), reference, dtype, "jacobian_by_jvps")
    assert_matches(bp.jacobian_by_vjps(f, x), reference, dtype, "jacobian_by_vjps")


def test_count_paths_doubles_with_every_logistic_step(bp):
    for n in (1, 5, 12):
        x = bp.Node(0.3, name="x")
        assert bp.count_paths(bp.logistic_map(x, n), x) == 2 ** n


# --------------------------------------------------------------------------- what autograd stores, PyTorch's graph

def test_saved_activation_bytes_counts_a_view_by_its_own_elements(bp):
    """A 64-row view of a larger batch: 5 activations of 64 x 256 float32, not the whole batch's storage."""
    torch.manual_seed(0)
    chain = bp.tanh_chain(4)
    batch = torch.randn(1000, 256)
    view = batch[100:164]
    saved = bp.saved_activation_bytes(chain, lambda: chain(view).square().mean())
    assert saved == 5 * view.nbytes == 327_680, f"{saved:,} bytes for 5 activations of {view.nbytes:,}"
    whole = bp.saved_activation_bytes(chain, lambda: chain(batch).square().mean())
    assert whole == 5 * batch.nbytes


def test_autograd_graph_is_the_tree_of_real_edges(bp):
    """Each function is listed above, and one level less indented than, the functions it sends gradients to."""
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    loss = (torch.tanh(w * w) + b).sum()
    assert bp.autograd_graph(loss, {w: "w", b: "b"}) == [
        (0, "SumBackward0"),
        (1, "AddBackward0"),
        (2, "TanhBackward0"),
        (3, "MulBackward0"),
        (4, "AccumulateGrad (w)"),
        (4, "AccumulateGrad (w), shown above"),  # w * w reaches the same leaf twice
        (2, "AccumulateGrad (b)"),
    ]


def run_with_alarm(seconds: int, function, *args):
    """Call function(*args), failing (instead of hanging) when it does not return within seconds."""
    def timeout(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        return function(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_double_until_large_refuses_zeros_and_keeps_the_dtype(bp, dtype):
    with pytest.raises(ValueError, match="non-zero"):
        run_with_alarm(5, bp.double_until_large, torch.zeros(3, dtype=dtype))
    out = run_with_alarm(5, bp.double_until_large, torch.tensor([0.3, 0.4], dtype=dtype))
    assert out.dtype == dtype and out.item() == pytest.approx(0.7 * 32)
    tiny = run_with_alarm(5, bp.double_until_large, torch.tensor([0.0, 1e-30], dtype=dtype))
    assert 10 <= tiny.item() < 20
