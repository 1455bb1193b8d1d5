"""The regularisation chapter's own definitions, on inputs the chapter never shows, against torch and scipy."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from nbutils.notebook import load_definitions

ch = load_definitions("07_regularization_dropout")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9])
def test_dropout_is_f_dropout_mask_for_mask(dtype, p):
    h = torch.randn(7, 3, 5, dtype=dtype)
    torch.manual_seed(11)
    reference = F.dropout(h, p, training=True)
    ours = ch.dropout(h, p, torch.Generator().manual_seed(11))
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, reference)
    assert torch.equal(ch.dropout(h, p, training=False), h)


def test_dropout_with_a_rate_per_network_keeps_the_expectation():
    p = torch.tensor([0.0, 0.25, 0.5, 0.75]).view(4, 1, 1)
    h = torch.ones(4, 2000, 50, dtype=torch.float64)
    out = ch.dropout(h, p, torch.Generator().manual_seed(0))
    dropped = (out == 0).double().mean(dim=(1, 2))
    torch.testing.assert_close(dropped, p.view(4).double(), atol=0.01, rtol=0)
    torch.testing.assert_close(out.mean(dim=(1, 2)), torch.ones(4, dtype=torch.float64), atol=0.03, rtol=0)


def test_shift_images_matches_scipy_for_every_move():
    X = torch.rand(9, 64, dtype=torch.float64)
    moves = torch.tensor([(x, y) for x in (-1, 0, 1) for y in (-1, 0, 1)])
    ours = ch.shift_images(X, moves[:, 0], moves[:, 1])
    for image, shifted, (dx, dy) in zip(X, ours, moves.tolist(), strict=True):
        expected = ndimage.shift(image.reshape(8, 8).numpy(), (dy, dx), order=0, cval=0)
        np.testing.assert_array_equal(shifted.reshape(8, 8).numpy(), expected)


def test_weight_decay_step_is_sgd_weight_decay():
    W = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    grad_J = torch.randn(6, 4, dtype=torch.float64)
    opt = torch.optim.SGD([W], lr=0.3, weight_decay=0.2)
    expected = ch.sgd_weight_decay_step(W.detach().clone(), grad_J, 0.3, 0.2)
    W.grad = grad_J.clone()
    opt.step()
    torch.testing.assert_close(W.detach(), expected)


def test_penalties_match_vector_norms():
    weights = [torch.randn(3, 5, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)]
    flat = torch.cat([w.flatten() for w in weights])
    torch.testing.assert_close(ch.l2_penalty(weights), 0.5 * torch.linalg.vector_norm(flat) ** 2)
    torch.testing.assert_close(ch.l1_penalty(weights), torch.linalg.vector_norm(flat, ord=1))


def test_forward_in_eval_mode_is_an_independent_mlp_per_network():
    params = ch.init_networks([0, 1], width=8)
    X = torch.rand(2, 5, 64)
    logits = ch.forward(params, X, torch.zeros(2, 1, 1))
    W1, b1, W2, b2, W3, b3 = params
    for e in range(2):
        h = torch.relu(torch.relu(X[e] @ W1[e] + b1[e]) @ W2[e] + b2[e])
        torch.testing.assert_close(logits[e], h @ W3[e] + b3[e])


def test_init_networks_draws_every_layer_and_network_independently():
    # Layers with the same fan-out once shared a seed, so W2[:64] was a scaled
    # copy of W1; standardised, no two layers or networks may share a draw.
    params = ch.init_networks([0, 1], width=64)
    W1, _, W2, _, W3, _ = params
    standard = [
        W1 / (2 / 64) ** 0.5,
        W2 / (2 / 64) ** 0.5,
        W3 / (2 / 64) ** 0.5,
    ]
    first_rows = [W[e, 0, :10] for W in standard for e in range(2)]
    for i, a in enumerate(first_rows):
        for b in first_rows[i + 1:]:
            assert not torch.allclose(a, b)
