"""How text becomes index terms where the library keeps the text index itself (a Redis with
neither the Query Engine nor its full text): the Query Engine's own normalisation, redone.

Lower case, runs of letters, digits and underscores, the Query Engine's English stop words
dropped, and the Snowball English stemmer (the one the Query Engine stems with), so "Refunds"
and "refund" are one term on every backend. Pure functions; the stemmer loads on first use.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from aether_memory.core.query import STOPWORDS

# BM25 as the Query Engine's BM25STD computes it (k1 1.2, b 0.75). Term weights are stored at
# write time, so lengths are normalised against a fixed pivot rather than the running average
# (which would mean rewriting every posting as the namespace grows).
K1, B = 1.2, 0.75
PIVOT_LENGTH = 16.0
_local = threading.local()
_WORD = re.compile(r"\w+", re.UNICODE)


def _stemmer() -> Any:
    # Snowball stemmers keep state while stemming: one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import snowballstemmer  # type: ignore[import-untyped]

        stemmer = _local.stemmer = snowballstemmer.stemmer("english")
    return stemmer


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball English stem of one lower-case word."""
    stemmed: str = _stemmer().stemWord(word)
    return stemmed


def analyze(text: str) -> list[str]:
    """The index terms of `text`, in order, repeats kept (for term frequencies)."""
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def term_set(text: str) -> set[str]:
    """The distinct index terms of `text` (each distinct word stemmed once)."""
    return {stem(w) for w in set(_WORD.findall(text.lower())) if w not in STOPWORDS}


def term_weights(text: str) -> dict[str, float]:
    """Each term's BM25 weight in a document (before idf), as stored in its posting."""
    terms = analyze(text)
    norm = K1 * (1 - B + B * len(terms) / PIVOT_LENGTH)
    return {t: tf * (K1 + 1) / (tf + norm) for t, tf in Counter(terms).items()}


def query_terms(words: Iterable[str]) -> list[str]:
    """The distinct stems of a query's words (already split and stop-word free)."""
    return list(dict.fromkeys(stem(w) for w in words))


def idf(docs: int, with_term: int) -> float:
    """Lucene's idf: never negative, however common the term."""
    return math.log(1 + (docs - with_term + 0.5) / (with_term + 0.5))


def bm25(
    postings: Sequence[Mapping[str, float]], frequencies: Sequence[int], docs: int
) -> dict[str, float]:
    """Score documents from each query term's postings (document -> stored weight) and the
    number of documents holding the term."""
    out: dict[str, float] = {}
    for posting, with_term in zip(postings, frequencies, strict=True):
        weight = idf(max(docs, with_term), with_term)
        for doc, w in posting.items():
            out[doc] = out.get(doc, 0.0) + weight * w
    return out
