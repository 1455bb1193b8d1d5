"""The book's data: digits, Wikipedia text and word-similarity sets, generated sequence tasks, shipped files.

Nothing here downloads anything. The digits come with scikit-learn, the text
comes with ``gensim==4.4.0``'s test data, the sequence tasks are generated
from a seed, and files shipped in ``data/`` are verified against their sha256
(see ``data/README.md``).

- Digits: :func:`load_digits`, :func:`digits_splits`.
- Text: :func:`wiki_tokens`, :func:`wordsim353`, :func:`simlex999`, :func:`analogy_questions`.
- Sequence tasks: :func:`date_pairs` (with :func:`date_split`), :func:`reversal_pairs`,
  :class:`CharVocab`, :func:`batches`.
- Shipped files: :func:`data_file`.

Every generator takes its own seed and leaves the global random state alone.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import random
import string
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SPLITS = ("train", "val", "test")
GENSIM_MISSING = "gensim is needed for the text data: run `pip install gensim==4.4.0` (or `make install`)."


# --------------------------------------------------------------------------- validation

def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def _check_positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}.")
    return int(seed)


def _check_split(split) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of 'train', 'val', 'test', got {split!r}.")
    return split


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------- digits

def digits_splits(standardize: bool = False, seed: int = 0, val_fraction: float = 0.15,
                  test_fraction: float = 0.15) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """scikit-learn's 8x8 digits (1,797 images) as ``{'train': (X, y), 'val': (X, y), 'test': (X, y)}``.

    ``X`` is float32 of shape (N, 64): the 8x8 pixels row by row, scaled from
    0..16 to [0, 1]. ``y`` is int64 of shape (N,), the digit 0..9. The split is
    stratified (every split has the classes in the same proportions) and the
    same for the same ``seed``. With ``standardize=True`` every feature is
    shifted and scaled by the *training* split's mean and standard deviation;
    a pixel that is constant in the training split is only shifted (its
    standard deviation is taken as 1, as scikit-learn's ``StandardScaler`` does).
    """
    val_fraction = _check_fraction(val_fraction, "val_fraction")
    test_fraction = _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1:
        raise ValueError(f"val_fraction + test_fraction must be below 1 to leave training data, "
                         f"got {val_fraction} + {test_fraction}.")
    seed = _check_seed(seed)
    # scikit-learn takes about a second to import; only the digits need it.
    from sklearn.datasets import load_digits as sklearn_load_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_load_digits()
    features = (digits.data / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        features, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest, random_state=seed)
    splits = {"train": (X_train, y_train), "val": (X_val, y_val), "test": (X_test, y_test)}
    if standardize:
        train_mean = X_train.mean(axis=0)
        train_std = X_train.std(axis=0)
        train_std = np.where(train_std < 1e-6, 1.0, train_std).astype(np.float32)
        splits = {name: ((X - train_mean) / train_std, y) for name, (X, y) in splits.items()}
    return {name: (torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)), torch.from_numpy(y))
            for name, (X, y) in splits.items()}


def load_digits(split: str = "train", standardize: bool = False, seed: int = 0, val_fraction: float = 0.15,
                test_fraction: float = 0.15) -> tuple[torch.Tensor, torch.Tensor]:
    """One split of the digits: ``X`` float32 (N, 64) in [0, 1] (or standardised), ``y`` int64 (N,).

    ``split`` is 'train', 'val' or 'test'; see :func:`digits_splits` for the
    other arguments.
    """
    split = _check_split(split)
    return digits_splits(standardize, seed, val_fraction, test_fraction)[split]


# --------------------------------------------------------------------------- gensim's text data

class WordPair(NamedTuple):
    """One row of a word-similarity set: two lower-cased words and the mean human score."""

    word1: str
    word2: str
    score: float


def _gensim_test_data(name: str) -> Path:
    """Path of a file in gensim's bundled test data, found without importing gensim."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(GENSIM_MISSING)
    path = Path(spec.submodule_search_locations[0]) / "test" / "test_data" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from gensim's test data: reinstall it with "
                                f"`pip install --force-reinstall gensim==4.4.0`.")
    return path


def _read_word_pairs(name: str) -> list[WordPair]:
    rows = []
    for line in _gensim_test_data(name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word1, word2, score = line.split("\t")
            rows.append(WordPair(word1.lower(), word2.lower(), float(score)))
    return rows


def wordsim353() -> list[WordPair]:
    """WordSim-353: 353 word pairs with their mean human relatedness score (0-10).

    Each row is a :class:`WordPair` ``(word1, word2, score)``, words lower-cased
    to match :func:`wiki_tokens`. Source: gensim 4.4.0's test data.
    """
    return _read_word_pairs("wordsim353.tsv")


def simlex999() -> list[WordPair]:
    """SimLex-999: 999 word pairs with their mean human *similarity* score (0-10).

    Unlike WordSim-353 it scores similarity, not relatedness (``coast``/``shore``
    high, ``cup``/``coffee`` low). Rows are :class:`WordPair`, lower-cased.
    """
    return _read_word_pairs("simlex999.txt")


def analogy_questions() -> dict[str, list[tuple[str, str, str, str]]]:
    """Mikolov et al.'s analogy questions: section name -> list of ``(a, b, c, d)``, lower-cased.

    Each question reads "a is to b as c is to d" (``athens greece baghdad iraq``).
    The 14 sections (e.g. ``capital-common-countries``, ``gram8-plural``) keep
    the file's order; 19,544 questions in all.
    """
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    questions: list[tuple[str, str, str, str]] = []
    for line in _gensim_test_data("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            questions = sections.setdefault(line[1:].strip(), [])
        elif line.strip():
            a, b, c, d = line.lower().split()
            questions.append((a, b, c, d))
    return sections


# --------------------------------------------------------------------------- Wikipedia tokens

WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKI_CACHE_FORMAT = 1
# Like gensim's WikiCorpus, skip articles under 50 tokens (redirects, stubs);
# unlike it, keep one-letter words so the stream reads as English ("a", "i").
WIKI_ARTICLE_MIN_TOKENS = 50
WIKI_TOKEN_MIN_LEN = 1
WIKI_TOKEN_MAX_LEN = 15


class _CorruptCache(Exception):
    """A cache file that cannot be trusted; its message says why."""


def _cache_dir(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is None:
        cache_dir = os.environ.get("NBUTILS_CACHE") or Path.home() / ".cache" / "nbutils"
    elif not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}.")
    return Path(cache_dir).expanduser()


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _wiki_articles(dump: Path, max_articles: int | None) -> list[list[str]]:
    """Token lists of the dump's articles (main namespace, no redirects or stubs), in dump order."""
    import bz2

    try:
        from gensim.corpora.wikicorpus import IGNORED_NAMESPACES, extract_pages, filter_wiki, tokenize
    except ImportError:
        raise ImportError(GENSIM_MISSING) from None
    articles = []
    with bz2.open(dump) as stream:
        for title, text, _ in extract_pages(stream, filter_namespaces=("0",)):
            if max_articles is not None and len(articles) >= max_articles:
                break
            if any(title.startswith(namespace + ":") for namespace in IGNORED_NAMESPACES):
                continue
            tokens = tokenize(filter_wiki(text), WIKI_TOKEN_MIN_LEN, WIKI_TOKEN_MAX_LEN, True)
            if len(tokens) >= WIKI_ARTICLE_MIN_TOKENS:
                articles.append(tokens)
    return articles


def _cache_header(source_sha256: str, max_articles: int | None, body: bytes, n_tokens: int) -> dict:
    return {"format": WIKI_CACHE_FORMAT, "gensim": importlib.metadata.version("gensim"),
            "source_sha256": source_sha256, "max_articles": max_articles,
            "tokens": n_tokens, "body_sha256": hashlib.sha256(body).hexdigest()}


def _read_wiki_cache(path: Path, source_sha256: str, max_articles: int | None) -> list[str] | None:
    """The cached tokens; None if the cache was built from other data; _CorruptCache if it is damaged."""
    raw = path.read_bytes()
    header_line, newline, body = raw.partition(b"\n")
    try:
        header = json.loads(header_line)
        recorded = (header["format"], header["gensim"], header["source_sha256"], header["max_articles"])
        n_tokens, body_sha256 = int(header["tokens"]), header["body_sha256"]
    except (ValueError, KeyError, TypeError) as err:
        raise _CorruptCache(f"its header is unreadable ({err})") from None
    if recorded != (WIKI_CACHE_FORMAT, importlib.metadata.version("gensim"), source_sha256, max_articles):
        return None
    if not newline or hashlib.sha256(body).hexdigest() != body_sha256:
        raise _CorruptCache("its checksum does not match its contents (truncated or edited)")
    tokens = body.decode("utf-8").split()
    if len(tokens) != n_tokens:
        raise _CorruptCache(f"it holds {len(tokens)} tokens but its header says {n_tokens}")
    return tokens


def _write_atomically(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so an interrupted write never leaves a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def wiki_tokens(max_articles: int | None = None, cache_dir: str | os.PathLike | None = None) -> list[str]:
    """The lower-cased token stream of gensim's shortened English Wikipedia dump (about 470,000 tokens).

    Wiki markup is stripped with gensim's ``filter_wiki`` and the text split
    with its ``tokenize`` (letters only, lower-cased, no lemmatisation).
    Redirects and stubs under 50 tokens are skipped, as gensim's ``WikiCorpus``
    does. ``max_articles`` keeps only the first that many articles (None: all).

    The first call takes a few seconds; it caches the result as a UTF-8 text
    file (one article per line, after a JSON header with a format version and
    a sha256 of the text) in ``cache_dir``, which defaults to ``$NBUTILS_CACHE``
    or ``~/.cache/nbutils``. Later calls read it back in a fraction of a
    second. A damaged cache file is detected and rebuilt, with a warning. If
    the cache cannot be written, the tokens are returned uncached with a warning.
    """
    if max_articles is not None:
        max_articles = _check_positive(max_articles, "max_articles")
    directory = _cache_dir(cache_dir)
    dump = _gensim_test_data(WIKI_DUMP)
    source_sha256 = _sha256_file(dump)
    path = directory / f"wiki_tokens-v{WIKI_CACHE_FORMAT}-{max_articles or 'all'}.txt"
    if path.is_file():
        try:
            tokens = _read_wiki_cache(path, source_sha256, max_articles)
        except _CorruptCache as damage:
            warnings.warn(f"the cached Wikipedia tokens in {path} are corrupt: {damage}; rebuilding them.",
                          stacklevel=2)
        else:
            if tokens is not None:
                return tokens
    articles = _wiki_articles(dump, max_articles)
    body = "".join(" ".join(tokens) + "\n" for tokens in articles).encode("utf-8")
    tokens = [token for article in articles for token in article]
    header = _cache_header(source_sha256, max_articles, body, len(tokens))
    try:
        _write_atomically(path, json.dumps(header).encode("utf-8") + b"\n" + body)
    except OSError as err:
        warnings.warn(f"cannot write the cache in {directory} ({err.strerror or err}); returning the tokens "
                      f"without caching, so the next call rebuilds them. Set NBUTILS_CACHE to a writable folder.",
                      stacklevel=2)
    return tokens


# --------------------------------------------------------------------------- dates

FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)  # 100 years, so a two-digit year names exactly one year
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                 "novembre", "décembre")
FRENCH_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _ordinal(day: int) -> str:
    if 11 <= day <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _month(day: datetime.date) -> str:
    return MONTHS[day.month - 1]


def _weekday(day: datetime.date) -> str:
    return WEEKDAYS[day.weekday()]


# Source formats, keyed by how each writes 7 April 1957. Slashes put the month
# first (US), dots put the day first (European), so no source is ambiguous.
DATE_FORMATS: dict[str, Callable[[datetime.date], str]] = {
    "7 Apr 1957": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",
    "7 April 1957": lambda d: f"{d.day} {_month(d)} {d.year}",
    "Sunday, April 7th, 1957": lambda d: f"{_weekday(d)}, {_month(d)} {_ordinal(d.day)}, {d.year}",
    "Sunday 7 April 1957": lambda d: f"{_weekday(d)} {d.day} {_month(d)} {d.year}",
    "Sun Apr 7 1957": lambda d: f"{_weekday(d)[:3]} {_month(d)[:3]} {d.day} {d.year}",
    "April 7, 1957": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "Apr 7th, '57": lambda d: f"{_month(d)[:3]} {_ordinal(d.day)}, '{d.year % 100:02d}",
    "7th of April 1957": lambda d: f"{_ordinal(d.day)} of {_month(d)} {d.year}",
    "04/07/57": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "4/7/1957": lambda d: f"{d.month}/{d.day}/{d.year}",
    "7.4.1957": lambda d: f"{d.day}.{d.month}.{d.year}",
    "07.04.57": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
}
CASINGS: tuple[Callable[[str], str], ...] = (str, str.lower, str.upper)


def _french_long(day: datetime.date) -> str:
    day_number = "1er" if day.day == 1 else str(day.day)
    return f"{FRENCH_WEEKDAYS[day.weekday()]} {day_number} {FRENCH_MONTHS[day.month - 1]} {day.year}"


DATE_TARGETS: dict[str, Callable[[datetime.date], str]] = {"iso": datetime.date.isoformat, "french": _french_long}


def date_split(day: datetime.date) -> str:
    """Which split a calendar date belongs to: 'train' (about 80%), 'val' or 'test' (about 10% each).

    The rule is a fixed hash (CRC-32) of the ISO date, independent of any seed,
    so the splits never share a date: a model tested on 'test' dates has never
    seen those days, in any format.
    """
    if not isinstance(day, datetime.date):
        raise TypeError(f"day must be a datetime.date, got {type(day).__name__}.")
    bucket = zlib.crc32(day.isoformat().encode("ascii")) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def date_pairs(n: int, seed: int = 0, split: str = "train", target: str = "iso") -> list[tuple[str, str]]:
    """``n`` (source, target) pairs: a date written by a human, and the same date in a fixed format.

    Dates are uniform over 1950-01-01 .. 2049-12-31, restricted to the dates
    that :func:`date_split` assigns to ``split``. Each source uses one of the
    formats in ``DATE_FORMATS`` (``7 Apr 1957``, ``Sunday, April 7th, 1957``,
    ``04/07/57``, ``7.4.1957``, ...), as written, lower-case or upper-case.
    ``target='iso'`` gives ``1957-04-07``; ``target='french'`` gives
    ``dimanche 7 avril 1957`` (``1er`` for the first of a month).
    The same ``(n, seed, split, target)`` always gives the same list.
    """
    n = _check_count(n, "n")
    rng = random.Random(_check_seed(seed))
    split = _check_split(split)
    if target not in DATE_TARGETS:
        raise ValueError(f"target must be one of {', '.join(map(repr, DATE_TARGETS))}, got {target!r}.")
    render_target = DATE_TARGETS[target]
    formats = list(DATE_FORMATS.values())
    span = (LAST_DATE - FIRST_DATE).days
    pairs = []
    while len(pairs) < n:
        day = FIRST_DATE + datetime.timedelta(days=rng.randint(0, span))
        if date_split(day) != split:
            continue
        source = rng.choice(CASINGS)(rng.choice(formats)(day))
        pairs.append((source, render_target(day)))
    return pairs


# --------------------------------------------------------------------------- reversal

def reversal_pairs(n: int, lengths: tuple[int, int], seed: int = 0,
                   alphabet: str = string.ascii_lowercase) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs: a random string over ``alphabet`` and the same string reversed.

    Source lengths are uniform over the inclusive range ``lengths = (shortest,
    longest)``, e.g. ``(4, 15)`` to train and ``(16, 30)`` to test beyond the
    training lengths. The same arguments always give the same list.
    """
    n = _check_count(n, "n")
    rng = random.Random(_check_seed(seed))
    if (not isinstance(lengths, tuple) or len(lengths) != 2
            or not all(isinstance(x, Integral) and not isinstance(x, bool) for x in lengths)):
        raise TypeError(f"lengths must be a pair of integers (shortest, longest), got {lengths!r}.")
    shortest, longest = lengths
    if not 1 <= shortest <= longest:
        raise ValueError(f"lengths must satisfy 1 <= shortest <= longest, got {lengths!r}.")
    if not isinstance(alphabet, str) or not alphabet:
        raise ValueError(f"alphabet must be a non-empty string of characters, got {alphabet!r}.")
    pairs = []
    for _ in range(n):
        source = "".join(rng.choices(alphabet, k=rng.randint(shortest, longest)))
        pairs.append((source, source[::-1]))
    return pairs


# --------------------------------------------------------------------------- characters to ids

class CharVocab:
    """A character vocabulary: ids 0-3 are PAD, BOS, EOS, UNK, then the characters in sorted order.

    ``CharVocab(texts)`` collects every character of the strings in ``texts``;
    the same set of characters always gives the same ids.
    """

    PAD, BOS, EOS, UNK = 0, 1, 2, 3
    SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
    UNKNOWN_CHAR = "\N{REPLACEMENT CHARACTER}"

    def __init__(self, texts: Iterable[str]):
        if isinstance(texts, str):
            raise TypeError("texts must be a collection of strings, not one string: use CharVocab([text]).")
        if not isinstance(texts, Iterable):
            raise TypeError(f"texts must be a collection of strings, got {type(texts).__name__}.")
        characters: set[str] = set()
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must contain strings, found {type(text).__name__} {text!r}.")
            characters.update(text)
        self.tokens: list[str] = [*self.SPECIALS, *sorted(characters)]
        self._ids = {char: index for index, char in enumerate(self.tokens) if index >= len(self.SPECIALS)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} tokens: 4 specials + {''.join(self.tokens[len(self.SPECIALS):])!r})"

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = True) -> list[int]:
        """Ids of ``text``'s characters (unknown ones become UNK), optionally after BOS and before EOS."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}.")
        ids = [self._ids.get(char, self.UNK) for char in text]
        return [self.BOS] * add_bos + ids + [self.EOS] * add_eos

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """The string of a sequence of ids (list or 1-D tensor).

        Stops at EOS, skips PAD and BOS, and shows UNK as U+FFFD (a question mark in a diamond).
        """
        if not isinstance(ids, Iterable):
            raise TypeError(f"ids must be a list of integers or a 1-D tensor, got {type(ids).__name__}.")
        if isinstance(ids, torch.Tensor):
            if ids.ndim != 1:
                raise ValueError(f"decode takes one sequence (a 1-D tensor), got shape {tuple(ids.shape)}.")
            ids = ids.tolist()
        chars = []
        for index in ids:
            if isinstance(index, bool) or not isinstance(index, Integral) or not 0 <= index < len(self):
                raise ValueError(f"ids must be integers in [0, {len(self)}), found {index!r}.")
            if index == self.EOS:
                break
            if index == self.UNK:
                chars.append(self.UNKNOWN_CHAR)
            elif index >= len(self.SPECIALS):
                chars.append(self.tokens[index])
        return "".join(chars)


# --------------------------------------------------------------------------- padded batches

BUCKET_BATCHES = 20  # sort by length within pools of this many batches: similar lengths, still random


def _pad(sequences: list[list[int]]) -> torch.Tensor:
    """(B, longest) LongTensor of the sequences, right-padded with PAD."""
    padded = torch.full((len(sequences), max(map(len, sequences))), CharVocab.PAD, dtype=torch.long)
    for row, ids in enumerate(sequences):
        padded[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return padded


def _batch_order(source_lengths: list[int], batch_size: int, seed: int, shuffle: bool) -> list[list[int]]:
    """Example indices of each batch, grouped so that a batch's sources have similar lengths."""
    if not shuffle:
        order = sorted(range(len(source_lengths)), key=source_lengths.__getitem__)
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(source_lengths)).tolist()
    pool_size = batch_size * BUCKET_BATCHES
    groups = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start:start + pool_size], key=source_lengths.__getitem__)
        groups += [pool[i:i + batch_size] for i in range(0, len(pool), batch_size)]
    return [groups[i] for i in rng.permutation(len(groups))]


def batches(pairs: Sequence[tuple[str, str]], src_vocab: CharVocab, tgt_vocab: CharVocab, batch_size: int,
            seed: int = 0, shuffle: bool = True) -> Iterator[tuple[torch.Tensor, ...]]:
    """Padded batches ``(src, src_lengths, tgt_in, tgt_out)`` of (source, target) string pairs, batch first.

    - ``src``: (B, S) LongTensor, each source encoded with EOS, right-padded with PAD (0);
    - ``src_lengths``: (B,) LongTensor, the number of ids before padding (EOS included);
    - ``tgt_in``: (B, T) LongTensor, BOS + target, the decoder's input under teacher forcing;
    - ``tgt_out``: (B, T) LongTensor, target + EOS, what the decoder must predict.

    Examples of similar source length share a batch, so little is padding.
    With ``shuffle=True`` the examples are shuffled, sorted by length within
    pools of ``BUCKET_BATCHES`` batches, and the batch order shuffled, all from
    ``seed``; with ``shuffle=False`` the batches go from shortest to longest
    source. Every example appears exactly once; the last batch may be smaller.
    This is a one-pass generator: to train for several epochs, call it once
    per epoch (e.g. with ``seed=epoch``) or keep ``list(batches(...))``.
    """
    if not isinstance(src_vocab, CharVocab) or not isinstance(tgt_vocab, CharVocab):
        raise TypeError("src_vocab and tgt_vocab must be CharVocab instances, e.g. CharVocab(s for s, _ in pairs).")
    batch_size = _check_positive(batch_size, "batch_size")
    seed = _check_seed(seed)
    if isinstance(pairs, str) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a list of (source, target) string pairs, got {type(pairs).__name__}.")
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise TypeError(f"pairs must contain (source, target) tuples of two strings, found {pair!r}.")
    sources = [src_vocab.encode(source) for source, _ in pairs]
    targets = [tgt_vocab.encode(target, add_eos=False) for _, target in pairs]
    return _iterate_batches(sources, targets, _batch_order(list(map(len, sources)), batch_size, seed, shuffle))


def _iterate_batches(sources: list[list[int]], targets: list[list[int]],
                     groups: list[list[int]]) -> Iterator[tuple[torch.Tensor, ...]]:
    for group in groups:
        src = [sources[i] for i in group]
        yield (_pad(src), torch.tensor([len(ids) for ids in src], dtype=torch.long),
               _pad([[CharVocab.BOS] + targets[i] for i in group]),
               _pad([targets[i] + [CharVocab.EOS] for i in group]))


# --------------------------------------------------------------------------- files shipped in data/

def data_file(name: str, sha256: str) -> Path:
    """Path of ``data/<name>`` in the repository after checking its sha256 (64 hex digits).

    Raises FileNotFoundError when the file is missing and ValueError when its
    checksum differs from ``sha256``; both say how to restore it. Nothing is
    downloaded or overwritten.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a file name inside data/, e.g. 'iris.csv', got {name!r}.")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"name must be a path inside data/, got {name!r}.")
    if not isinstance(sha256, str) or len(sha256) != 64 or any(c not in string.hexdigits for c in sha256):
        raise ValueError(f"sha256 must be 64 hexadecimal digits (see data/README.md), got {sha256!r}.")
    path = DATA_DIR / relative
    shown = f"data/{relative.as_posix()}"
    if not path.is_file():
        raise FileNotFoundError(f"{shown} is missing: run `git checkout -- {shown}` or re-clone the repository.")
    actual = _sha256_file(path)
    if actual != sha256.lower():
        raise ValueError(f"checksum mismatch for {shown}: expected sha256 {sha256.lower()}, got {actual}; "
                         f"the file is corrupt or was edited: restore it with `git checkout -- {shown}`.")
    return path
