"""Floyd–Warshall all-pairs shortest paths, in place."""

import numpy as np


def floyd_warshall(dist):
    """Floyd–Warshall all-pairs shortest paths (PolyBench `floyd-warshall`), in place
    on the distance matrix (`np.inf` where there is no edge).
    """
    n = dist.shape[0]
    for k in range(n):
        for i in range(n):
            for j in range(n):
                if dist[i, k] + dist[k, j] < dist[i, j]:
                    dist[i, j] = dist[i, k] + dist[k, j]


def make_inputs(n, rng, dtype=np.float64):
    """A random directed graph: about half the edges present, weights in [1, 10)."""
    dist = rng.uniform(1.0, 10.0, size=(n, n))
    dist[rng.random((n, n)) < 0.5] = np.inf
    np.fill_diagonal(dist, 0.0)
    return (dist.astype(dtype),)
