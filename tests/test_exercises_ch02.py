"""Checkers of the maximum-likelihood chapter: the model solution passes, typical mistakes fail."""
import torch
import torch.nn.functional as F

from nbutils.exercises.ch02_maximum_likelihood import ex_bce_with_logits, ex_log_softmax


def test_log_softmax_model_solution_passes():
    assert ex_log_softmax.check(ex_log_softmax.model_solution).passed


def test_log_softmax_typical_mistakes():
    naive = ex_log_softmax.check(lambda z: torch.log(torch.softmax(z, dim=-1)))
    assert naive.status == "nonfinite" and "subtract the largest logit" in naive.message
    assert ex_log_softmax.check(lambda z: z - z.logsumexp(dim=0)).status in {"wrong_value", "exception"}
    assert ex_log_softmax.check(lambda z: z - z.max()).status == "wrong_value"
    assert ex_log_softmax.check(lambda z: torch.softmax(z, -1)).status == "wrong_value"
    assert ex_log_softmax.check(lambda z: torch.log_softmax(z.float(), -1)).status == "wrong_dtype"

    def stub(z):
        ...

    assert ex_log_softmax.check(stub).status == "not_attempted"


def test_bce_with_logits_model_solution_passes():
    assert ex_bce_with_logits.check(ex_bce_with_logits.model_solution).passed


def test_bce_with_logits_typical_mistakes():
    def naive(z, t):
        p = torch.sigmoid(z)
        return (-t * torch.log(p) - (1 - t) * torch.log(1 - p)).mean()

    result = ex_bce_with_logits.check(naive)
    assert result.status == "nonfinite" and "±800" in result.message
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="sum")).status \
        == "wrong_value"
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction="none")).status \
        == "wrong_shape"
    # the sign slip: sigmoid(z) = 1 / (1 + exp(z))
    assert ex_bce_with_logits.check(lambda z, t: F.binary_cross_entropy_with_logits(-z, t)).status == "wrong_value"
