import datetime
import hashlib
import json
import sys
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nbutils import data
from nbutils.data import (
    DATE_FORMATS,
    CharVocab,
    WordPair,
    analogy_questions,
    batches,
    data_file,
    date_pairs,
    date_split,
    digits_splits,
    load_digits,
    reversal_pairs,
    simlex999,
    wiki_tokens,
    wordsim353,
)

# --------------------------------------------------------------------------- digits

@pytest.fixture(scope="module")
def digits():
    return digits_splits(seed=0)


def test_digits_shapes_dtypes_and_range(digits):
    sizes = {name: len(y) for name, (_, y) in digits.items()}
    assert sum(sizes.values()) == 1797
    assert sizes["val"] == sizes["test"] == 270
    for X, y in digits.values():
        assert X.dtype == torch.float32 and y.dtype == torch.int64
        assert X.shape == (len(y), 64)
        assert X.min() >= 0 and X.max() <= 1


def test_digits_split_is_stratified(digits):
    overall = Counter(torch.cat([y for _, y in digits.values()]).tolist())
    for _, y in digits.values():
        share = Counter(y.tolist())
        for digit, count in overall.items():
            assert share[digit] / len(y) == pytest.approx(count / 1797, abs=0.01)


def test_digits_split_is_deterministic_and_depends_on_seed(digits):
    X_train, y_train = load_digits("train", seed=0)
    assert torch.equal(X_train, digits["train"][0]) and torch.equal(y_train, digits["train"][1])
    assert not torch.equal(load_digits("train", seed=1)[0], X_train)


def test_digits_standardised_with_training_statistics_only(digits):
    X_train, X_val = digits["train"][0].numpy(), digits["val"][0].numpy()
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std = np.where(std < 1e-6, 1.0, std)
    standardized = digits_splits(standardize=True, seed=0)
    np.testing.assert_allclose(standardized["val"][0].numpy(), (X_val - mean) / std, atol=1e-5)
    train = standardized["train"][0]
    varying = torch.from_numpy(X_train.std(axis=0) > 1e-6)
    assert train.mean(0).abs().max() < 1e-5
    assert torch.allclose(train.std(0, unbiased=False)[varying], torch.ones(int(varying.sum())), atol=1e-4)
    assert torch.isfinite(standardized["test"][0]).all()
    assert standardized["val"][0].mean(0).abs().max() > 1e-3  # not re-centred on its own statistics


@pytest.mark.parametrize("kwargs, error, message", [
    ({"split": "training"}, ValueError, "split must be one of 'train', 'val', 'test', got 'training'"),
    ({"val_fraction": 0}, ValueError, r"val_fraction must be a number in \(0, 1\), got 0"),
    ({"test_fraction": 1.5}, ValueError, r"test_fraction must be a number in \(0, 1\), got 1.5"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, ValueError, "must be below 1"),
    ({"seed": 1.5}, TypeError, "seed must be an integer, got 1.5"),
])
def test_digits_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_digits(**kwargs)


# --------------------------------------------------------------------------- gensim's text data

def test_word_similarity_tables():
    wordsim, simlex = wordsim353(), simlex999()
    assert len(wordsim) == 353 and len(simlex) == 999
    assert wordsim[0] == WordPair("love", "sex", 6.77)
    assert ("jerusalem", "israel", 8.46) in wordsim
    for word1, word2, score in wordsim + simlex:
        assert word1 == word1.lower() and word2 == word2.lower()
        assert 0 <= score <= 10


def test_analogy_questions():
    sections = analogy_questions()
    assert len(sections) == 14
    assert sum(map(len, sections.values())) == 19544
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")
    assert all(len(q) == 4 and all(w == w.lower() for w in q) for q in sections["gram8-plural"])


def test_missing_gensim_gives_install_sentence(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "gensim" or m.startswith("gensim.")] + ["gensim"]:
        monkeypatch.setitem(sys.modules, name, None)
    message = r"gensim is needed for the text data: run `pip install gensim==4.4.0` \(or `make install`\)"
    with pytest.raises(ImportError, match=message):
        wordsim353()
    with pytest.raises(ImportError, match=message):
        wiki_tokens(max_articles=1, cache_dir=tmp_path)


@pytest.fixture(scope="module")
def wiki_cache(tmp_path_factory):
    """A cache dir holding the first 3 articles' tokens, and those tokens."""
    cache_dir = tmp_path_factory.mktemp("wiki_cache")
    return cache_dir, wiki_tokens(max_articles=3, cache_dir=cache_dir)


def test_wiki_tokens_are_clean_lowercase_words(wiki_cache):
    _, tokens = wiki_cache
    assert tokens[:5] == ["anarchism", "is", "a", "political", "philosophy"]
    assert len(tokens) > 10_000
    assert all(token.isalpha() and token == token.lower() for token in tokens)
    assert not {"ref", "http", "www", "nbsp"} & set(tokens[:2000])


def test_wiki_tokens_cache_is_text_and_reused(wiki_cache, monkeypatch):
    cache_dir, tokens = wiki_cache
    (path,) = cache_dir.glob("wiki_tokens-*-3.txt")
    header = json.loads(path.read_bytes().partition(b"\n")[0])
    assert header["format"] == data.WIKI_CACHE_FORMAT and header["tokens"] == len(tokens)

    def no_rebuild(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(data, "_wiki_articles", no_rebuild)
    assert wiki_tokens(max_articles=3, cache_dir=cache_dir) == tokens


def test_wiki_tokens_default_cache_dir_from_environment(wiki_cache, monkeypatch):
    cache_dir, tokens = wiki_cache
    monkeypatch.setenv("NBUTILS_CACHE", str(cache_dir))
    assert wiki_tokens(max_articles=3) == tokens


@pytest.mark.parametrize("damage", ["truncate", "edit", "header"])
def test_corrupt_wiki_cache_is_rebuilt(wiki_cache, tmp_path, damage):
    _, tokens = wiki_cache
    wiki_tokens(max_articles=3, cache_dir=tmp_path)
    (path,) = tmp_path.glob("wiki_tokens-*-3.txt")
    raw = path.read_bytes()
    damaged = {"truncate": raw[: len(raw) // 2], "edit": raw.replace(b"anarchism", b"anarchisn", 1),
               "header": b"not json" + raw[raw.index(b"\n"):]}[damage]
    path.write_bytes(damaged)
    with pytest.warns(UserWarning, match="corrupt.*rebuilding"):
        assert wiki_tokens(max_articles=3, cache_dir=tmp_path) == tokens
    assert path.read_bytes() == raw


def test_wiki_cache_from_another_gensim_version_is_rebuilt_quietly(wiki_cache, tmp_path, recwarn):
    _, tokens = wiki_cache
    wiki_tokens(max_articles=3, cache_dir=tmp_path)
    (path,) = tmp_path.glob("wiki_tokens-*-3.txt")
    header_line, _, body = path.read_bytes().partition(b"\n")
    header = {**json.loads(header_line), "gensim": "0.0"}
    path.write_bytes(json.dumps(header).encode() + b"\n" + body)
    assert wiki_tokens(max_articles=3, cache_dir=tmp_path) == tokens
    assert json.loads(path.read_bytes().partition(b"\n")[0])["gensim"] != "0.0"
    assert not recwarn.list


def test_unwritable_cache_dir_falls_back_to_uncached(wiki_cache, tmp_path):
    _, tokens = wiki_cache
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.warns(UserWarning, match="cannot write the cache .* without caching"):
        assert wiki_tokens(max_articles=3, cache_dir=blocker / "cache") == tokens


@pytest.mark.parametrize("kwargs, error, message", [
    ({"max_articles": 0}, ValueError, "max_articles must be a positive integer, got 0"),
    ({"max_articles": 2.5}, ValueError, "max_articles must be a positive integer, got 2.5"),
    ({"cache_dir": 3}, TypeError, "cache_dir must be a path or None, got int"),
])
def test_wiki_tokens_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        wiki_tokens(**kwargs)


# --------------------------------------------------------------------------- dates

def test_each_date_format_writes_its_own_example():
    for example, render in DATE_FORMATS.items():
        assert render(datetime.date(1957, 4, 7)) == example


def test_ordinal_suffixes():
    days = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 30, 31]
    assert [data._ordinal(day) for day in days] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "30th", "31st"]


def test_date_pairs_deterministic_and_varied():
    pairs = date_pairs(300, seed=3)
    assert pairs == date_pairs(300, seed=3)
    assert pairs != date_pairs(300, seed=4)
    source_lengths = [len(source) for source, _ in pairs]
    assert min(source_lengths) <= 8 and max(source_lengths) >= 25
    assert any(s.isupper() for s, _ in pairs) and any(s.islower() for s, _ in pairs)
    for source, target in pairs:
        day = datetime.date.fromisoformat(target)
        assert datetime.date(1950, 1, 1) <= day <= datetime.date(2049, 12, 31)
        assert source.lower() in {render(day).lower() for render in DATE_FORMATS.values()}


def test_date_pairs_leave_the_global_random_state_alone():
    import random

    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    date_pairs(50, seed=1)
    reversal_pairs(50, (2, 5), seed=1)
    assert random.getstate() == state[0]
    assert np.array_equal(np.random.get_state()[1], state[1]) and torch.equal(torch.get_rng_state(), state[2])


def test_held_out_dates_are_disjoint_across_splits():
    days = {split: {datetime.date.fromisoformat(t) for _, t in date_pairs(2000, seed=0, split=split)}
            for split in ("train", "val", "test")}
    assert not days["train"] & days["test"] and not days["train"] & days["val"] and not days["val"] & days["test"]
    assert all(date_split(day) == split for split, group in days.items() for day in group)
    shares = Counter(date_split(datetime.date(2000, 1, 1) + datetime.timedelta(d)) for d in range(3650))
    assert 0.07 < shares["test"] / 3650 < 0.13 and 0.07 < shares["val"] / 3650 < 0.13


def test_french_target():
    assert data._french_long(datetime.date(1957, 4, 7)) == "dimanche 7 avril 1957"
    assert data._french_long(datetime.date(2001, 8, 1)) == "mercredi 1er août 2001"
    for _, target in date_pairs(20, seed=0, target="french"):
        weekday, _, month, year = target.split()
        assert weekday in data.FRENCH_WEEKDAYS and month in data.FRENCH_MONTHS and len(year) == 4


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": -3}, ValueError, "n must be a non-negative integer, got -3"),
    ({"n": 2.0}, ValueError, "n must be a non-negative integer, got 2.0"),
    ({"n": 5, "split": "dev"}, ValueError, "split must be one of 'train', 'val', 'test', got 'dev'"),
    ({"n": 5, "target": "german"}, ValueError, "target must be one of 'iso', 'french', got 'german'"),
    ({"n": 5, "seed": "0"}, TypeError, "seed must be an integer, got '0'"),
    ({"n": True}, ValueError, "n must be a non-negative integer, got True"),
])
def test_date_pairs_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        date_pairs(**kwargs)


def test_date_split_rejects_non_dates():
    with pytest.raises(TypeError, match="day must be a datetime.date, got str"):
        date_split("1957-04-07")


# --------------------------------------------------------------------------- reversal

def test_reversal_pairs_lengths_in_range_and_reversed():
    pairs = reversal_pairs(500, (4, 15), seed=2, alphabet="abc")
    assert pairs == reversal_pairs(500, (4, 15), seed=2, alphabet="abc")
    lengths = {len(source) for source, _ in pairs}
    assert lengths == set(range(4, 16))
    assert all(target == source[::-1] and set(source) <= set("abc") for source, target in pairs)
    assert reversal_pairs(0, (1, 1)) == []


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": -1, "lengths": (1, 2)}, ValueError, "n must be a non-negative integer, got -1"),
    ({"n": 3, "lengths": (5, 4)}, ValueError, r"lengths must satisfy 1 <= shortest <= longest, got \(5, 4\)"),
    ({"n": 3, "lengths": (0, 4)}, ValueError, "lengths must satisfy 1 <= shortest <= longest"),
    ({"n": 3, "lengths": 7}, TypeError, "lengths must be a pair of integers"),
    ({"n": 3, "lengths": (1, 2.5)}, TypeError, "lengths must be a pair of integers"),
    ({"n": 3, "lengths": (1, 2), "alphabet": ""}, ValueError, "alphabet must be a non-empty string"),
])
def test_reversal_pairs_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        reversal_pairs(**kwargs)


# --------------------------------------------------------------------------- vocabulary

def test_char_vocab_ids_are_deterministic_with_specials_first():
    vocab = CharVocab(["cab", "ba"])
    assert len(vocab) == 7 and vocab.tokens == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b", "c"]
    assert CharVocab(["ba", "cab"]).tokens == vocab.tokens
    assert (vocab.PAD, vocab.BOS, vocab.EOS, vocab.UNK) == (0, 1, 2, 3)
    assert vocab.encode("abc") == [4, 5, 6, 2]
    assert vocab.encode("abc", add_bos=True, add_eos=False) == [1, 4, 5, 6]
    assert vocab.encode("az") == [4, 3, 2]
    assert vocab.decode([1, 4, 3, 2, 5]) == "a\ufffd"
    assert "abc" in repr(vocab)


def test_char_vocab_round_trip_on_dates():
    pairs = date_pairs(200, seed=0)
    vocab = CharVocab(source for source, _ in pairs)
    for source, _ in pairs:
        ids = vocab.encode(source, add_bos=True)
        assert vocab.decode(ids) == source
        assert vocab.decode(torch.tensor(ids + [vocab.PAD] * 3)) == source


@settings(max_examples=60, database=None, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=5))
def test_char_vocab_round_trips_any_text(texts):
    vocab = CharVocab(texts)
    for text in texts:
        assert vocab.decode(vocab.encode(text, add_bos=True)) == text
        assert all(index >= 4 for index in vocab.encode(text, add_eos=False))


@pytest.mark.parametrize("call, error, message", [
    (lambda: CharVocab("abc"), TypeError, "not one string"),
    (lambda: CharVocab(["ab", 3]), TypeError, "texts must contain strings, found int 3"),
    (lambda: CharVocab(["ab"]).encode(5), TypeError, "text must be a string, got int"),
    (lambda: CharVocab(["ab"]).decode([4, 99]), ValueError, r"ids must be integers in \[0, 6\), found 99"),
    (lambda: CharVocab(["ab"]).decode(torch.zeros(2, 2, dtype=torch.long)), ValueError, "1-D tensor"),
])
def test_char_vocab_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --------------------------------------------------------------------------- batches

@pytest.fixture(scope="module")
def reversal_task():
    pairs = reversal_pairs(400, (2, 30), seed=0)
    vocab = CharVocab(source for source, _ in pairs)
    return pairs, vocab


def test_batches_are_padded_and_cover_every_example_once(reversal_task):
    pairs, vocab = reversal_task
    seen = []
    for src, src_lengths, tgt_in, tgt_out in batches(pairs, vocab, vocab, batch_size=16, seed=0):
        assert src.dtype == src_lengths.dtype == tgt_in.dtype == tgt_out.dtype == torch.long
        assert src.shape[0] == src_lengths.shape[0] == tgt_in.shape[0] == tgt_out.shape[0] <= 16
        assert tgt_in.shape == tgt_out.shape and src.shape[1] == int(src_lengths.max())
        assert (tgt_in[:, 0] == vocab.BOS).all()
        for row in range(src.shape[0]):
            length = int(src_lengths[row])
            assert src[row, length - 1] == vocab.EOS and (src[row, length:] == vocab.PAD).all()
            target_length = length - 1  # reversal: the target is as long as the source
            assert tgt_out[row, target_length] == vocab.EOS and (tgt_out[row, target_length + 1:] == vocab.PAD).all()
            assert torch.equal(tgt_in[row, 1:target_length + 1], tgt_out[row, :target_length])
            seen.append((vocab.decode(src[row]), vocab.decode(tgt_out[row])))
    assert sorted(seen) == sorted(pairs)


def _mean_length_spread(batch_list) -> float:
    return float(np.mean([int(lengths.max() - lengths.min()) for _, lengths, _, _ in batch_list]))


def test_batches_group_similar_lengths_and_are_seeded(reversal_task):
    pairs, vocab = reversal_task
    first = list(batches(pairs, vocab, vocab, batch_size=8, seed=1))
    again = list(batches(pairs, vocab, vocab, batch_size=8, seed=1))
    other = list(batches(pairs, vocab, vocab, batch_size=8, seed=2))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, again, strict=True))
    assert not all(a[0].shape == b[0].shape and torch.equal(a[0], b[0]) for a, b in zip(first, other, strict=False))
    assert _mean_length_spread(first) <= 2  # unsorted batches of 8 lengths in 2..30 spread about 20
    in_order = list(batches(pairs, vocab, vocab, batch_size=8, shuffle=False))
    maxima = [int(lengths.max()) for _, lengths, _, _ in in_order]
    assert maxima == sorted(maxima)
    assert len(list(batches(pairs[:5], vocab, vocab, batch_size=2))) == 3


@pytest.mark.parametrize("kwargs, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
    ({"batch_size": 4, "seed": None}, TypeError, "seed must be an integer, got None"),
    ({"batch_size": 4, "pairs": "abc"}, TypeError, "pairs must be a list of .* got str"),
    ({"batch_size": 4, "pairs": [("ab", 3)]}, TypeError, r"found \('ab', 3\)"),
    ({"batch_size": 4, "tgt_vocab": {"a": 1}}, TypeError, "must be CharVocab instances"),
])
def test_batches_bad_arguments_fail_at_the_call(reversal_task, kwargs, error, message):
    pairs, vocab = reversal_task
    arguments = {"pairs": pairs[:10], "src_vocab": vocab, "tgt_vocab": vocab, **kwargs}
    with pytest.raises(error, match=message):
        batches(**arguments)


# --------------------------------------------------------------------------- shipped files

@pytest.fixture()
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    return tmp_path


def test_data_file_returns_verified_path(data_dir):
    (data_dir / "table.csv").write_text("x,y\n1,2\n")
    checksum = hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    assert data_file("table.csv", checksum) == data_dir / "table.csv"
    assert data_file("table.csv", checksum.upper()) == data_dir / "table.csv"


def test_data_file_missing_says_how_to_restore(data_dir):
    message = r"data/x.csv is missing: run `git checkout -- data/x.csv` or re-clone the repository"
    with pytest.raises(FileNotFoundError, match=message):
        data_file("x.csv", "0" * 64)


def test_data_file_checksum_mismatch_says_how_to_restore(data_dir):
    (data_dir / "table.csv").write_text("edited")
    with pytest.raises(ValueError, match="checksum mismatch for data/table.csv.*corrupt or was edited: restore it "
                                         "with `git checkout -- data/table.csv`"):
        data_file("table.csv", "0" * 64)
    assert (data_dir / "table.csv").read_text() == "edited"


@pytest.mark.parametrize("name, checksum, error, message", [
    ("../secret", "0" * 64, ValueError, "name must be a path inside data/"),
    ("", "0" * 64, TypeError, "name must be a file name inside data/"),
    ("x.csv", "abc", ValueError, "sha256 must be 64 hexadecimal digits"),
    ("x.csv", "z" * 64, ValueError, "sha256 must be 64 hexadecimal digits"),
])
def test_data_file_bad_arguments(data_dir, name, checksum, error, message):
    with pytest.raises(error, match=message):
        data_file(name, checksum)
