"""The convolutional-networks chapter's own definitions, on inputs the chapter never shows, against torch."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from nbutils.notebook import load_definitions

ch = load_definitions("10_cnn")

SETTINGS = [(1, 1, 0, 1), (2, 1, 1, 1), (3, 2, 0, 3), (4, 2, 2, 1), (5, 3, 4, 2), (3, 4, 1, 1)]


@pytest.mark.parametrize("k, stride, padding, dilation", SETTINGS)
@pytest.mark.parametrize("dtype, rtol", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_conv2d_and_its_backward_match_torch(k, stride, padding, dilation, dtype, rtol):
    gen = torch.Generator().manual_seed(k * 100 + stride * 10 + padding)
    x = torch.randn(3, 2, 13, 10, generator=gen, dtype=dtype)
    weight = torch.randn(5, 2, k, k, generator=gen, dtype=dtype)
    bias = torch.randn(5, generator=gen, dtype=dtype)
    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    ref = F.conv2d(*leaves, stride=stride, padding=padding, dilation=dilation)
    ours = ch.conv2d(x, weight, bias, stride, padding, dilation)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, ref.detach(), rtol=rtol, atol=rtol)
    grad_z = torch.randn(ref.shape, generator=gen, dtype=dtype)
    expected = torch.autograd.grad(ref, leaves, grad_z)
    for mine, theirs in zip(ch.conv2d_backward(grad_z, x, weight, stride, padding, dilation), expected, strict=True):
        assert mine.dtype == dtype
        torch.testing.assert_close(mine, theirs, rtol=rtol, atol=rtol)


def test_col2im_is_the_adjoint_of_im2col():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 9, 11, generator=gen, dtype=torch.float64)
    patches, _ = ch.im2col(x, 3, 2, 1, 2)
    p = torch.randn(patches.shape, generator=gen, dtype=torch.float64)
    lhs = (patches * p).sum()
    rhs = (x * ch.col2im(p, x.shape, 3, 2, 1, 2)).sum()
    assert lhs.item() == pytest.approx(rhs.item(), rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 7, 16, 33, 100])
def test_conv_output_size_is_pytorchs_shape(n):
    for k in (1, 2, 3, 5, 7):
        for stride in (1, 2, 3, 5):
            for padding in (0, 1, 3):
                for dilation in (1, 2, 4):
                    if n + 2 * padding < dilation * (k - 1) + 1:
                        continue
                    signal = torch.empty(1, 1, n, device="meta")
                    weight = torch.empty(1, 1, k, device="meta")
                    shape = F.conv1d(signal, weight, stride=stride, padding=padding, dilation=dilation).shape[-1]
                    assert ch.conv_output_size(n, k, stride, padding, dilation) == shape


def test_correlate2d_loop_is_a_one_channel_conv2d():
    gen = torch.Generator().manual_seed(4)
    x, w = torch.randn(6, 8, generator=gen, dtype=torch.float64), torch.randn(4, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(ch.correlate2d_loop(x, w), F.conv2d(x[None, None], w[None, None])[0, 0])


@pytest.mark.parametrize("k, stride", [(2, 2), (3, 2), (3, 1), (4, 3)])
@pytest.mark.parametrize("mode, reference", [("max", F.max_pool2d), ("average", F.avg_pool2d)])
def test_pool2d_matches_torch(k, stride, mode, reference):
    x = torch.randn(2, 3, 11, 13, generator=torch.Generator().manual_seed(k + stride), dtype=torch.float64)
    torch.testing.assert_close(ch.pool2d(x, k, stride, mode), reference(x, k, stride))


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("mode, reference", [("max", F.max_pool2d), ("average", F.avg_pool2d)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pool2d_backward_matches_autograd(k, mode, reference, dtype):
    gen = torch.Generator().manual_seed(k)
    x = torch.randn(2, 3, 4 * k, 3 * k, generator=gen, dtype=dtype)
    leaf = x.clone().requires_grad_()
    out = reference(leaf, k)
    grad_z = torch.randn(out.shape, generator=gen, dtype=dtype)
    (expected,) = torch.autograd.grad(out, leaf, grad_z)
    ours = ch.pool2d_backward(grad_z, x, k, mode)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, expected)


def test_receptive_field_closed_forms():
    for depth in range(1, 9):
        assert ch.receptive_field([(3, 1, 1)] * depth)[-1] == (2 * depth + 1, 1)
        dilated = ch.receptive_field([(3, 1, 2**i) for i in range(depth)])
        assert dilated[-1] == (2 ** (depth + 1) - 1, 1)
    # AlexNet's layers (kernel, stride, dilation): 195 pixels after the last pooling
    alexnet_layers = [(11, 4, 1), (3, 2, 1), (5, 1, 1), (3, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1), (3, 2, 1)]
    assert ch.receptive_field(alexnet_layers)[-1] == (195, 32)


@pytest.mark.parametrize("n1, n2, c_in, c_out, k", [(5, 9, 1, 2, 3), (8, 6, 2, 1, 5), (7, 7, 3, 2, 1)])
def test_counts_match_the_jacobian(n1, n2, c_in, c_out, k):
    gen = torch.Generator().manual_seed(n1 * n2 + k)
    weight = torch.randn(c_out, c_in, k, k, generator=gen, dtype=torch.float64)
    basis = torch.eye(c_in * n1 * n2, dtype=torch.float64).reshape(-1, c_in, n1, n2)
    jacobian = F.conv2d(basis, weight, padding=k // 2).flatten(1).T
    fc, conv = ch.layer_counts(n1, n2, c_in, c_out, k)
    assert int((jacobian != 0).sum()) == ch.real_connections(n1, n2, c_in, c_out, k)
    assert jacobian.shape == (conv["units"], c_in * n1 * n2)
    assert conv["weights"] == weight.numel()
    assert fc["weights"] == nn.Linear(c_in * n1 * n2, conv["units"], bias=False, device="meta").weight.numel()


def test_filter_image_keeps_the_size_for_odd_kernels():
    image = torch.rand(12, 17, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for kernel in ch.KERNELS.values():
        assert ch.filter_image(image, kernel).shape == image.shape
        assert ch.filter_image(image, kernel, dilation=2).shape == image.shape


def test_alexnet_and_googlenet_parameter_counts():
    with torch.device("meta"):
        alexnet, googlenet = ch.alexnet(), ch.googlenet()
        assert alexnet(torch.empty(2, 3, 227, 227)).shape == (2, 1000)
        assert googlenet(torch.empty(2, 3, 224, 224)).shape == (2, 1000)
    assert sum(p.numel() for p in alexnet.parameters()) == 60_965_224
    rows = ch.parameter_table(alexnet)
    assert sum(count for _, _, count in rows) == 60_965_224
    assert [shape for _, shape, _ in rows][0] == (96, 55, 55)
    assert 6_900_000 < sum(p.numel() for p in googlenet.parameters()) < 7_100_000


def test_multiply_adds_match_the_flop_counter():
    with torch.device("meta"):
        net = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, groups=1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=4),
                            nn.Flatten(), nn.Linear(8 * 110 * 110, 10))
    with FlopCounterMode(display=False) as counter:
        net(torch.empty(1, 3, 227, 227, device="meta"))
    assert sum(m for _, m in ch.multiply_adds(net)) == counter.get_total_flops() // 2


def test_inception_widths_and_reductions():
    with torch.device("meta"):
        for widths in ch.INCEPTION_TABLE.values():
            c_in, c1, _, c3, _, c5, proj = widths
            module = ch.Inception(*widths)
            assert module(torch.empty(1, c_in, 14, 14)).shape == (1, c1 + c3 + c5 + proj, 14, 14)
        direct = ch.Inception(192, 64, None, 128, None, 32, 32)
    assert sum(p.numel() for p in direct.branch5.parameters()) == 25 * 192 * 32 + 32


def test_lenet_and_mlp_have_equal_budgets_and_train():
    cnn_params = sum(p.numel() for p in ch.make_lenet().parameters())
    mlp_params = sum(p.numel() for p in ch.make_mlp().parameters())
    assert (cnn_params, mlp_params) == (1898, 1885)
    gen = torch.Generator().manual_seed(6)
    X, t = torch.rand(40, 1, 8, 8, generator=gen), torch.randint(0, 10, (40,), generator=gen)
    first = ch.train(ch.make_lenet, X, t, lr=0.1, seed=0, epochs=2, batch=16)
    again = ch.train(ch.make_lenet, X, t, lr=0.1, seed=0, epochs=2, batch=16)
    for a, b in zip(first.parameters(), again.parameters(), strict=True):
        assert torch.equal(a, b)
    assert 0 <= ch.accuracy(first, X, t) <= 1


def test_saved_tensors_of_a_linear_layer_is_its_input():
    model = nn.Sequential(nn.Linear(5, 3))
    X, t = torch.randn(7, 5), torch.randint(0, 3, (7,))
    saved = ch.saved_tensors(model, X, t)
    assert (X.nbytes, torch.float32, (7, 5)) in saved.values()
