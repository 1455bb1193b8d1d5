"""The attention chapter's own definitions, on inputs the chapter never shows, against independent computations."""
import math

import pytest
import torch

from nbutils.data import CharVocab, batches, reversal_pairs
from nbutils.notebook import load_definitions

ch = load_definitions("15_seq2seq_attention")


def _loop_attention(queries, keys, lengths, W_a, U_a, v_a):
    """Contexts and weights one (sequence, query) pair at a time, over the real keys only."""
    B, T, _ = queries.shape
    S = keys.shape[1]
    contexts = torch.zeros(B, T, keys.shape[2], dtype=keys.dtype)
    weights = torch.zeros(B, T, S, dtype=keys.dtype)
    for b in range(B):
        real = keys[b, :lengths[b]]
        for i in range(T):
            e = torch.tanh(real @ U_a.T + W_a @ queries[b, i]) @ v_a
            a = torch.exp(e - e.max())
            a = a / a.sum()
            weights[b, i, :lengths[b]] = a
            contexts[b, i] = a @ real
    return contexts, weights


@pytest.mark.parametrize("B, T, S, Q, K, A, lengths", [
    (1, 1, 1, 1, 1, 1, [1]), (2, 3, 6, 4, 5, 7, [6, 1]), (4, 2, 9, 3, 2, 5, [9, 4, 2, 7])])
def test_additive_attention_matches_a_loop_over_real_keys(B, T, S, Q, K, A, lengths):
    gen = torch.Generator().manual_seed(B * 10 + S)
    q, k, W_a, U_a, v_a = (torch.randn(*shape, generator=gen, dtype=torch.float64)
                           for shape in ((B, T, Q), (B, S, K), (A, Q), (A, K), (A,)))
    mask = torch.arange(S) < torch.tensor(lengths)[:, None]
    contexts, weights = ch.additive_attention(q, k, mask, W_a, U_a, v_a)
    ref_c, ref_w = _loop_attention(q, k, lengths, W_a, U_a, v_a)
    torch.testing.assert_close(weights, ref_w, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(contexts, ref_c, rtol=1e-12, atol=1e-14)
    assert (weights[~mask[:, None, :].expand_as(weights)] == 0).all()


def test_attention_ignores_the_contents_of_padded_keys_and_keeps_float32():
    gen = torch.Generator().manual_seed(0)
    attend = ch.AdditiveAttention(4, 6, 5)
    q, k = torch.randn(2, 3, 4, generator=gen), torch.randn(2, 5, 6, generator=gen)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    c1, w1 = attend(q, k, mask)
    k2 = k.clone()
    k2[1, 2:] = 1e6 * torch.randn(3, 6, generator=gen)
    c2, w2 = attend(q, k2, mask)
    assert c1.dtype == torch.float32 and torch.equal(c1, c2) and torch.equal(w1, w2)
    torch.testing.assert_close(w1.sum(-1), torch.ones(2, 3))


def _model_and_pairs(attention, bidirectional, seed=0):
    torch.manual_seed(seed)
    vocab = CharVocab(["abcde"])
    model = ch.EncoderDecoder(len(vocab), len(vocab), attention, bidirectional=bidirectional,
                              embed=5, hidden=6, attend=4).double()
    return model, vocab, reversal_pairs(6, (1, 9), seed=seed + 3, alphabet="abcde")


@pytest.mark.parametrize("attention, bidirectional", [(False, True), (True, True), (False, False), (True, False)])
def test_padded_batch_gives_each_example_the_logits_it_has_alone(attention, bidirectional):
    model, vocab, pairs = _model_and_pairs(attention, bidirectional)
    (batch,) = batches(pairs, vocab, vocab, len(pairs), shuffle=False)
    together = model(*batch[:3])
    rows = sorted(range(len(pairs)), key=lambda n: len(pairs[n][0]))
    for row, n in enumerate(rows):
        alone = model(*next(batches([pairs[n]], vocab, vocab, 1))[:3])[0]
        torch.testing.assert_close(together[row, :len(alone)], alone, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("attention", [False, True])
def test_greedy_decoding_agrees_with_teacher_forcing_on_its_own_tokens(attention):
    model, vocab, pairs = _model_and_pairs(attention, True, seed=1)
    src, src_lengths, _, _ = next(batches(pairs, vocab, vocab, len(pairs), shuffle=False))
    tokens, weights = model.greedy(src, src_lengths, 7)
    assert tokens.shape == (len(pairs), 7)
    fed = torch.cat([torch.full((len(pairs), 1), CharVocab.BOS), tokens[:, :-1]], 1)
    with torch.no_grad():
        forced = model(src, src_lengths, fed)
    assert torch.equal(forced.argmax(-1), tokens)
    if attention:
        assert weights.shape == (len(pairs), 7, src.shape[1])
        torch.testing.assert_close(weights.sum(-1), torch.ones(len(pairs), 7, dtype=torch.float64))
        assert (weights.masked_select((src == CharVocab.PAD)[:, None, :].expand_as(weights)) == 0).all()
    else:
        assert weights is None


def test_exact_match_counts_a_wrong_character_or_a_late_eos_as_wrong():
    vocab = CharVocab(["ab"])
    pairs = [("ab", "ba"), ("a", "a"), ("b", "b")]

    class Oracle(torch.nn.Module):  # predicts the target, except a chosen number of mistakes
        def greedy(self, src, src_lengths, steps):
            _, _, _, tgt_out = next(batches(pairs, vocab, vocab, 3, shuffle=False))
            out = torch.full((len(src), steps), vocab.PAD)
            out[:, :tgt_out.shape[1]] = tgt_out
            out[out == vocab.PAD] = vocab.EOS
            out[0, 0] = vocab.encode("a")[0] if out[0, 0] != vocab.encode("a")[0] else vocab.encode("b")[0]
            return out, None

    assert ch.exact_match(Oracle(), pairs, vocab, vocab) == pytest.approx(2 / 3)


@pytest.mark.parametrize("width, dilation, steps", [(1, 1, 4), (2, 3, 7), (4, 2, 5), (3, 5, 20)])
def test_causal_conv1d_is_the_tap_sum_and_is_causal(width, dilation, steps):
    gen = torch.Generator().manual_seed(width * 10 + dilation)
    x = torch.randn(2, 3, steps, generator=gen, dtype=torch.float64)
    weight = torch.randn(2, 3, width, generator=gen, dtype=torch.float64)
    ref = torch.zeros(2, 2, steps, dtype=torch.float64)
    for t in range(steps):
        for m in range(width):
            u = t - (width - 1 - m) * dilation
            if u >= 0:
                ref[:, :, t] += x[:, :, u] @ weight[:, :, m].T
    torch.testing.assert_close(ch.causal_conv1d(x, weight, dilation), ref, rtol=1e-12, atol=1e-12)
    jac = torch.autograd.functional.jacobian(lambda s: ch.causal_conv1d(s, weight, dilation)[0, 0], x)[:, 0, 0]
    assert (jac.triu(diagonal=1) == 0).all()


@pytest.mark.parametrize("width, dilations", [(2, (1, 2, 4, 8, 16)), (3, (1, 3, 9)), (3, (1, 1, 2)), (2, (1,))])
def test_receptive_field_matches_the_jacobian_of_a_stack(width, dilations):
    gen = torch.Generator().manual_seed(len(dilations) * width)
    kernels = [torch.randn(1, 1, width, generator=gen, dtype=torch.float64) for _ in dilations]
    x = torch.randn(1, 1, 2 * ch.receptive_field(width, dilations), generator=gen, dtype=torch.float64)

    def stack(s):
        for kernel, d in zip(kernels, dilations, strict=True):
            s = torch.tanh(ch.causal_conv1d(s, kernel, d))
        return s[0, 0, -1]

    grad = torch.autograd.functional.jacobian(stack, x)
    assert int((grad != 0).sum()) == ch.receptive_field(width, dilations)
    assert math.log(ch.receptive_field(2, [2**p for p in range(6)]), 2) == 6
