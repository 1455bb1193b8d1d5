"""Checkers of the language-models chapter: model solutions pass, typical mistakes fail with their own message."""
import torch
import torch.nn.functional as F

from nbutils.exercises.ch12_language_models_word2vec import ex_addk_bigram_perplexity, ex_cbow_ns_loss_and_grads

# -- CBOW with negative sampling -----------------------------------------------------------------


def _scores(context, u_pos, u_neg):
    v = context.mean(dim=1)
    return v, (u_pos * v).sum(1), (u_neg * v[:, None, :]).sum(2)


def test_cbow_model_solution_passes():
    result = ex_cbow_ns_loss_and_grads.check(ex_cbow_ns_loss_and_grads.model_solution)
    assert result.passed, result.message


def test_cbow_einsum_answer_also_passes():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg):  # a second way: one target array with labels
        v = context.mean(dim=1)
        targets = torch.cat([u_pos[:, None], u_neg], dim=1)
        logits = torch.einsum("bkd,bd->bk", targets, v)
        labels = torch.zeros_like(logits)
        labels[:, 0] = 1
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1)
        g = torch.sigmoid(logits) - labels
        grad_v = torch.einsum("bk,bkd->bd", g, targets)
        grad_targets = g[:, :, None] * v[:, None, :]
        grad_context = (grad_v / context.shape[1]).unsqueeze(1).repeat(1, context.shape[1], 1)
        return loss, grad_context, grad_targets[:, 0], grad_targets[:, 1:]

    result = ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads)
    assert result.passed, result.message


def test_cbow_undivided_context_gradient_is_named():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg):
        loss, grad_context, grad_pos, grad_neg = ex_cbow_ns_loss_and_grads.model_solution(context, u_pos, u_neg)
        return loss, grad_context * context.shape[1], grad_pos, grad_neg

    result = ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads)
    assert not result.passed and "2m times too large" in result.message


def test_cbow_wrong_noise_sign_is_named():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg):
        v, s_pos, s_neg = _scores(context, u_pos, u_neg)
        loss = -F.logsigmoid(s_pos) - F.logsigmoid(s_neg).sum(1)
        g_pos, g_neg = torch.sigmoid(s_pos) - 1, -torch.sigmoid(-s_neg)
        grad_v = g_pos[:, None] * u_pos + (g_neg[:, :, None] * u_neg).sum(1)
        grad_context = (grad_v / context.shape[1])[:, None].expand_as(context)
        return loss, grad_context, g_pos[:, None] * v, g_neg[:, :, None] * v[:, None]

    result = ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads)
    assert not result.passed and "wrong sign" in result.message


def test_cbow_autograd_is_refused():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg):
        leaves = [x.detach().requires_grad_() for x in (context, u_pos, u_neg)]
        v, s_pos, s_neg = _scores(*leaves)
        loss = -F.logsigmoid(s_pos) - F.logsigmoid(-s_neg).sum(1)
        return (loss.detach(), *torch.autograd.grad(loss.sum(), leaves))

    result = ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads)
    assert not result.passed and "torch.autograd.grad" in result.message


def test_cbow_loop_over_the_batch_is_refused():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg):
        rows = [ex_cbow_ns_loss_and_grads.model_solution(context[i:i + 1], u_pos[i:i + 1], u_neg[i:i + 1])
                for i in range(len(context))]
        return tuple(torch.cat(parts) for parts in zip(*rows, strict=True))

    result = ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads)
    assert not result.passed and result.status == "python_loop"


def test_cbow_stub_is_not_attempted():
    def cbow_ns_loss_and_grads(context, u_pos, u_neg): ...

    assert ex_cbow_ns_loss_and_grads.check(cbow_ns_loss_and_grads).status == "not_attempted"


# -- perplexity of an add-delta bigram model -----------------------------------------------------


def test_perplexity_model_solution_passes():
    result = ex_addk_bigram_perplexity.check(ex_addk_bigram_perplexity.model_solution)
    assert result.passed, result.message


def test_perplexity_log_softmax_answer_also_passes():
    def addk_bigram_perplexity(counts, ids, delta):  # a second way: a normalised log table
        log_table = torch.log(counts + delta) - torch.log((counts + delta).sum(dim=1, keepdim=True))
        return torch.exp(-log_table[ids[:-1], ids[1:]].mean())

    result = ex_addk_bigram_perplexity.check(addk_bigram_perplexity)
    assert result.passed, result.message


def test_perplexity_missing_delta_v_is_named():
    def addk_bigram_perplexity(counts, ids, delta):
        probs = (counts[ids[:-1], ids[1:]] + delta) / (counts[ids[:-1]].sum(1) + delta)
        return torch.exp(-probs.log().mean())

    result = ex_addk_bigram_perplexity.check(addk_bigram_perplexity)
    assert not result.passed and "delta * V" in result.message


def test_perplexity_one_over_mean_probability_is_named():
    def addk_bigram_perplexity(counts, ids, delta):
        V = counts.shape[0]
        probs = (counts[ids[:-1], ids[1:]] + delta) / (counts[ids[:-1]].sum(1) + delta * V)
        return 1 / probs.mean()

    result = ex_addk_bigram_perplexity.check(addk_bigram_perplexity)
    assert not result.passed and "geometric mean" in result.message


def test_perplexity_exp_of_the_sum_fails():
    def addk_bigram_perplexity(counts, ids, delta):
        V = counts.shape[0]
        probs = (counts[ids[:-1], ids[1:]] + delta) / (counts[ids[:-1]].sum(1) + delta * V)
        return torch.exp(-probs.log().sum())

    assert not ex_addk_bigram_perplexity.check(addk_bigram_perplexity).passed


def test_perplexity_loop_over_the_text_is_refused():
    def addk_bigram_perplexity(counts, ids, delta):
        V = counts.shape[0]
        logs = [torch.log((counts[a, b] + delta) / (counts[a].sum() + delta * V))
                for a, b in zip(ids[:-1], ids[1:], strict=True)]
        return torch.exp(-torch.stack(logs).mean())

    result = ex_addk_bigram_perplexity.check(addk_bigram_perplexity)
    assert not result.passed and result.status == "python_loop"


def test_perplexity_stub_is_not_attempted():
    def addk_bigram_perplexity(counts, ids, delta): ...

    assert ex_addk_bigram_perplexity.check(addk_bigram_perplexity).status == "not_attempted"
