"""Exact nearest neighbours over a matrix of float32 vectors (numpy), for archives that keep
vectors as bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def nearest(
    ids: Sequence[str], matrix: np.ndarray, vector: bytes, n: int
) -> list[tuple[str, float]]:
    """The `n` rows of `matrix` (unit rows) most similar to `vector`, best first."""
    if not ids:
        return []
    q = np.frombuffer(vector, dtype=np.float32)
    norm = float(np.linalg.norm(q))
    if norm == 0.0 or q.shape[0] != matrix.shape[1]:
        return []
    scores = matrix @ (q / norm)
    n = min(n, len(ids))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(ids[i], float(scores[i])) for i in top]


def unit_rows(blobs: Sequence[bytes], dims: int) -> np.ndarray:
    """Vectors (float32 bytes) as a matrix of unit rows; a wrong-sized one becomes zeros."""
    matrix = np.zeros((len(blobs), dims), dtype=np.float32)
    for i, blob in enumerate(blobs):
        if len(blob) == 4 * dims:
            matrix[i] = np.frombuffer(blob, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: np.ndarray = matrix / norms
    return result
