"""Checkers of the batch-normalisation chapter: model solutions pass, typical mistakes fail with their own message."""
import torch

from nbutils.exercises.ch06_batch_norm import ex_batchnorm_backward, ex_fold_batchnorm

# -- the compact backward pass -------------------------------------------------------------------


def _stats(z, eps, correction=0):
    mean = z.mean(dim=0)
    inv_std = torch.rsqrt(z.var(dim=0, correction=correction) + eps)
    return (z - mean) * inv_std, inv_std


def test_batchnorm_backward_model_solution_passes():
    result = ex_batchnorm_backward.check(ex_batchnorm_backward.model_solution)
    assert result.passed, result.message


def test_batchnorm_backward_staged_graph_walk_also_passes():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):  # a second, node-by-node way
        n = z.shape[0]
        centred = z - z.mean(dim=0)
        var = (centred**2).mean(dim=0)
        inv_std = (var + eps) ** -0.5
        z_hat = centred * inv_std
        grad_z_hat = gamma * grad_a
        grad_var = -0.5 * inv_std**3 * (grad_z_hat * centred).sum(dim=0)
        grad_centred = grad_z_hat * inv_std + grad_var * 2 * centred / n
        grad_z = grad_centred - grad_centred.sum(dim=0) / n
        return grad_z, (grad_a * z_hat).sum(dim=0), grad_a.sum(dim=0)

    assert ex_batchnorm_backward.check(batchnorm_backward).passed


def test_batchnorm_backward_missing_mean_path_is_named():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        z_hat, inv_std = _stats(z, eps)
        g = gamma * grad_a
        return inv_std * (g - z_hat * (g * z_hat).mean(0)), (grad_a * z_hat).sum(0), grad_a.sum(0)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "batch mean is missing" in result.message


def test_batchnorm_backward_constant_statistics_are_named():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        z_hat, inv_std = _stats(z, eps)
        return inv_std * gamma * grad_a, (grad_a * z_hat).sum(0), grad_a.sum(0)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "as constants" in result.message


def test_batchnorm_backward_unbiased_variance_is_named():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        n = z.shape[0]
        z_hat, inv_std = _stats(z, eps, correction=1)
        g = gamma * grad_a
        grad_z = inv_std / n * (n * g - g.sum(0) - z_hat * (g * z_hat).sum(0))
        return grad_z, (grad_a * z_hat).sum(0), grad_a.sum(0)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "biased variance" in result.message


def test_batchnorm_backward_autograd_is_refused():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        z = z.detach().requires_grad_()
        gamma = gamma.detach().requires_grad_()
        beta = torch.zeros_like(gamma, requires_grad=True)
        out = gamma * (z - z.mean(0)) / (z.var(0, correction=0) + eps).sqrt() + beta
        return torch.autograd.grad(out, (z, gamma, beta), grad_a)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "torch.autograd.grad" in result.message


def test_batchnorm_backward_loop_over_the_batch_is_refused():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        n = z.shape[0]
        z_hat, inv_std = _stats(z, eps)
        g = gamma * grad_a
        sum_g, sum_gz = g.sum(0), (g * z_hat).sum(0)
        rows = [inv_std / n * (n * g[i] - sum_g - z_hat[i] * sum_gz) for i in range(n)]
        return torch.stack(rows), (grad_a * z_hat).sum(0), grad_a.sum(0)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "loop" in result.message


def test_batchnorm_backward_pytorch_kernel_is_refused():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        out, mean, invstd = torch.ops.aten.native_batch_norm(z, gamma, None, None, None, True, 0.1, eps)[:3]
        return tuple(torch.ops.aten.native_batch_norm_backward(
            grad_a, z, gamma, None, None, mean, invstd, True, eps, [True, True, True]))

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "batch-norm kernel" in result.message


def test_batchnorm_backward_loop_over_the_units_is_refused():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        columns = [ex_batchnorm_backward.model_solution(grad_a[:, [j]], z[:, [j]], gamma[[j]], eps)
                   for j in range(z.shape[1])]
        return tuple(torch.cat(parts, dim=-1) for parts in zip(*columns, strict=True))

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert not result.passed and "loop over the units" in result.message


def test_batchnorm_backward_float64_for_float32_input_is_a_dtype_error():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        out = ex_batchnorm_backward.model_solution(grad_a.double(), z.double(), gamma.double(), eps)
        return tuple(t.double() for t in out)

    result = ex_batchnorm_backward.check(batchnorm_backward)
    assert result.status == "wrong_dtype" and "float32" in result.message


def test_batchnorm_backward_stub_is_not_attempted():
    def batchnorm_backward(grad_a, z, gamma, eps=1e-5):
        ...  # your code here

    assert ex_batchnorm_backward.check(batchnorm_backward).status == "not_attempted"


# -- folding into the linear layer ----------------------------------------------------------------


def test_fold_batchnorm_model_solution_passes():
    result = ex_fold_batchnorm.check(ex_fold_batchnorm.model_solution)
    assert result.passed, result.message


def test_fold_batchnorm_written_another_way_passes():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        scale = torch.diag(gamma * (running_var + eps).rsqrt())
        return scale @ weight, scale @ (bias - running_mean) + beta

    assert ex_fold_batchnorm.check(fold_batchnorm).passed


def test_fold_batchnorm_forgotten_eps_is_named():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        scale = gamma / running_var.sqrt()
        return weight * scale[:, None], (bias - running_mean) * scale + beta

    result = ex_fold_batchnorm.check(fold_batchnorm)
    assert not result.passed and "keep eps" in result.message


def test_fold_batchnorm_scaled_columns_are_named():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        scale = gamma / (running_var + eps).sqrt()
        return weight * scale[None, :], (bias - running_mean) * scale + beta

    result = ex_fold_batchnorm.check(fold_batchnorm)
    assert not result.passed


def test_fold_batchnorm_unscaled_mean_is_named():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        scale = gamma / (running_var + eps).sqrt()
        return weight * scale[:, None], bias * scale - running_mean + beta

    result = ex_fold_batchnorm.check(fold_batchnorm)
    assert not result.passed and "running mean" in result.message


def test_fold_batchnorm_library_helper_is_refused():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        return torch.nn.utils.fusion.fuse_linear_bn_weights(
            weight, bias, running_mean, running_var, eps, gamma, beta)

    result = ex_fold_batchnorm.check(fold_batchnorm)
    assert not result.passed and "fuse_linear_bn_weights" in result.message


def test_fold_batchnorm_stub_is_not_attempted():
    def fold_batchnorm(weight, bias, running_mean, running_var, gamma, beta, eps):
        ...  # your code here

    assert ex_fold_batchnorm.check(fold_batchnorm).status == "not_attempted"
