"""A cheap similarity of Indonesian descriptions: TF-IDF cosine over each text's strongest terms.

Every text (a need's description; an offer's title and description) becomes a TF-IDF vector
over words (lower-cased, Indonesian stop words and very short tokens dropped, weight
(1 + log tf) * idf, L2-normalised). Only the `TERMS` heaviest terms of each text are kept,
each with its normalised weight, so comparing a pair is a fixed TERMS × TERMS comparison of
term ids: cheap across millions of candidate pairs, and exactly the cosine whenever the
shared words are among both texts' strongest (short descriptions usually have fewer than
TERMS distinctive words). The norms use the full vector, so truncation can only lower it.
"""
from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TERMS = 8
CHUNK = 1 << 16
_BREAK = "\x00"
_BREAK_BYTES = _BREAK.encode()
# bytes → itself for a-z, 0-9 and the separator, else a space (UTF-8 bytes of other letters
# too: words are runs of ASCII letters and digits, as in [0-9a-z]+)
_KEEP_ALNUM = bytes(c if chr(c) in string.ascii_lowercase + string.digits + _BREAK else 32
                    for c in range(256))
# Function words that say nothing about what is offered or needed.
_STOPWORD_TEXT = """
ada adalah agar akan aku anda antara apa atau bagi bagaimana bahwa baik banyak baru bawah
belum beberapa begitu berbagai berikut bersama beserta bisa boleh buah bukan cara dalam dan
dapat dari demikian dengan di dia ia ini itu jadi jika juga kalau kami kamu karena ke kepada
ketika kita lagi lain lebih maka mampu masih melalui mereka milik misalnya mulai namun oleh
pada para per perlu pula saat saja sama sampai sangat satu saya se sebagai sebelum sebuah
secara sedang sehingga sejak selain selama seluruh semua sendiri seperti serta setelah setiap
sudah supaya tanpa telah tentang terhadap tersebut tetapi untuk waktu yaitu yakni yang
the and for with of to in on a an by from at as is are be this that
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
MIN_LENGTH = 3


@dataclass
class TermVectors:
    """The TERMS strongest terms of each text: ids (-1 pads) and normalised weights."""

    ids: np.ndarray        # (texts, TERMS) int32
    weights: np.ndarray    # (texts, TERMS) float32
    vocabulary: list[str]


def term_vectors(texts: Sequence[str], terms: int = TERMS) -> TermVectors:
    """TF-IDF vectors of `texts`, truncated to their `terms` heaviest terms."""
    # All texts joined by a separator byte, lower-cased, every byte other than a-z and 0-9
    # turned into a space, and split: a few C-level passes, no Python loop per text or word.
    # The separator is a token of its own, so counting separators numbers the texts.
    joined = _BREAK.join(texts)
    if joined.count(_BREAK) != max(0, len(texts) - 1):  # a text holding the separator itself
        joined = _BREAK.join(text.replace(_BREAK, " ") for text in texts)
    tokens = (joined.lower().encode().translate(_KEEP_ALNUM)
              .replace(_BREAK_BYTES, b" " + _BREAK_BYTES + b" ").split())
    vocabulary = {word: i for i, word in enumerate(dict.fromkeys(tokens))}
    ids = np.fromiter(map(vocabulary.__getitem__, tokens), np.int64, len(tokens))
    words = [word.decode() for word in vocabulary]
    breaks = ids == vocabulary.get(_BREAK_BYTES, -1)
    doc = np.cumsum(breaks)
    useful = np.fromiter((len(w) >= MIN_LENGTH and w not in STOPWORDS and not w.isdigit()
                          for w in words), bool, len(words))
    keep = useful[ids] if len(ids) else np.zeros(0, dtype=bool)
    doc, ids = doc[keep], ids[keep]

    n_docs, n_words = len(texts), max(1, len(words))
    pairs, tf = np.unique(doc * n_words + ids, return_counts=True)
    doc, term = pairs // n_words, pairs % n_words
    df = np.bincount(term, minlength=n_words)
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    weight = (1.0 + np.log(tf)) * idf[term]
    norm = np.sqrt(np.bincount(doc, weight * weight, minlength=n_docs))
    weight = weight / norm[doc]

    # Keep each text's heaviest terms. One stable sort on text + (1 - weight) / 2 orders by
    # text, then weight descending, then term id (the order np.unique left them in).
    order = np.argsort(doc + (1.0 - weight) * 0.5, kind="stable")
    doc, term, weight = doc[order], term[order], weight[order]
    starts = np.searchsorted(doc, np.arange(n_docs))
    rank = np.arange(len(doc)) - starts[doc]
    kept = rank < terms
    out_ids = np.full((n_docs, terms), -1, dtype=np.int32)
    out_weights = np.zeros((n_docs, terms), dtype=np.float32)
    out_ids[doc[kept], rank[kept]] = term[kept]
    out_weights[doc[kept], rank[kept]] = weight[kept]
    return TermVectors(out_ids, out_weights, words)


def pair_cosine(left: TermVectors, left_rows: np.ndarray, right: TermVectors,
                right_rows: np.ndarray) -> np.ndarray:
    """Cosine of each pair (left_rows[i], right_rows[i]); both sides share one vocabulary."""
    out = np.empty(len(left_rows), dtype=np.float64)
    for start in range(0, len(left_rows), CHUNK):
        a = left.ids[left_rows[start:start + CHUNK]]
        b = right.ids[right_rows[start:start + CHUNK]]
        wa = left.weights[left_rows[start:start + CHUNK]]
        wb = right.weights[right_rows[start:start + CHUNK]]
        total = np.zeros(len(a), dtype=np.float32)
        # Pads (-1) may meet pads, but their weights are 0.
        for j in range(b.shape[1]):
            total += ((a == b[:, j:j + 1]) * wa).sum(axis=1) * wb[:, j]
        out[start:start + CHUNK] = total
    return np.clip(out, 0.0, 1.0)
