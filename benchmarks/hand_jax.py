"""Hand-written JAX ports of the loop kernels in examples/kernels, for benchmarks/kernels.py.

Each function here is what someone fluent in JAX writes when porting the NumPy
kernel of the same name by hand, keeping its algorithm and its loops:

- each Python loop becomes one lax loop: `lax.fori_loop` with Python-int bounds
  (which JAX lowers to a `scan`), `lax.fori_loop` with traced bounds (a
  `while_loop`) for the triangular loops of linear algebra, `lax.while_loop` for
  a data-dependent `while`, `lax.scan` for a loop that produces one value per
  step. A loop over Python ints known when tracing (the FFT's stages, the
  doubling offsets of a prefix scan) stays a Python loop;
- the carry holds what the loop changes, and a scalar that the NumPy code
  writes back to an array on every step only to read it again (an accumulator)
  is carried as a scalar;
- an array write at traced indices is one `lax.dynamic_update_slice` (`put`), which
  XLA does in place inside a loop (`.at[i].set` would be a `scatter`, slower on
  CPU), and two writes into one array in one step are one `scatter` (two updates
  in a row can make XLA copy the whole array on every step); scalar `if`s are
  `jnp.where` selects, and a NumPy slice whose bounds depend on a loop index
  becomes a full-length operation with a mask or a padded `lax.dynamic_slice`.

No inner loop is vectorised beyond what the NumPy code already writes as an
array expression, and nothing is tuned (no `unroll=`): these ports measure what
refscript costs over the same loops written in lax by hand, not how fast the
problem can be solved in JAX.

Calling convention: the parameters of the NumPy kernel (arrays as JAX arrays,
Python ints static, floats traced), and every port returns `(result, updates)`:
what the NumPy kernel returns (None when it returns nothing) and a tuple with
the new contents of the arguments it writes into, in the order of
`PORTS[name].mutates`. benchmarks/kernels.py and tests/test_benchmarks.py
check every port against the NumPy kernel before trusting it.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

fori = lax.fori_loop


@dataclasses.dataclass(frozen=True)
class Port:
    """A hand-written JAX port of one kernel: the jitted function and the parameters it updates."""

    name: str
    fn: Callable
    mutates: tuple[str, ...]
    static: tuple[str, ...] = ()

    def jit_again(self) -> Callable:
        """A second, separately compiled `jax.jit` of the same port (for an A/A comparison)."""
        return jax.jit(self.fn.__wrapped__, static_argnames=self.static)


PORTS: dict[str, Port] = {}


def port(*, mutates=(), static=()):
    """Registers a port under its function's name, jitted with `static` (its int parameters) static."""

    def register(fn):
        jitted = jax.jit(fn, static_argnames=tuple(static))
        PORTS[fn.__name__] = Port(fn.__name__, jitted, tuple(mutates), tuple(static))
        return jitted

    return register


def put(x, index, value):
    """`x` with `x[index] = value` (`index` a tuple of non-negative scalar indices, maybe traced).

    One `dynamic_update_slice`, which XLA does in place inside a loop; `x.at[i].set(v)` with a
    traced `i` is a `scatter`, slower on CPU.
    """
    index = index if isinstance(index, tuple) else (index,)
    window = (1,) * len(index) + x.shape[len(index):]
    value = jnp.broadcast_to(jnp.asarray(value, x.dtype), x.shape[len(index):]).reshape(window)
    return lax.dynamic_update_slice(x, value, (*index, *(0,) * (x.ndim - len(index))))


def put_column(x, j, column):
    """`x` with `x[:, j] = column`, as one `dynamic_update_slice`."""
    return lax.dynamic_update_slice(x, column.astype(x.dtype)[:, None], (0, j))


def _int(value):
    """A default-int (int64 under x64) scalar, so loop carries keep one type."""
    return jnp.asarray(value, dtype=jnp.int_)


# Linear algebra.


@port()
def back_substitution(U, b):
    n = b.shape[0]
    cols = jnp.arange(n)

    def solve_row(t, x):
        i = n - 1 - t
        tail = jnp.where(cols > i, x, 0.0)  # x[i + 1:], zero-padded to length n
        return put(x, i, (b[i] - U[i] @ tail) / U[i, i])

    return fori(0, n, solve_row, jnp.zeros_like(b)), ()


@port()
def forward_substitution(L, b):
    n = b.shape[0]

    def solve_row(i, x):
        s = fori(0, i, lambda j, s: s - L[i, j] * x[j], b[i])
        return put(x, i, s / L[i, i])

    return fori(0, n, solve_row, jnp.zeros_like(b)), ()


@port()
def cholesky(a):
    n = a.shape[0]

    def row(i, L):
        def entry(j, L):
            s = fori(0, j, lambda k, s: s - L[i, k] * L[j, k], a[i, j])
            return put(L, (i, j), jnp.where(i == j, jnp.sqrt(s), s / L[j, j]))

        return fori(0, i + 1, entry, L)

    return fori(0, n, row, jnp.zeros_like(a)), ()


@port(mutates=("a",))
def lu(a):
    n = a.shape[0]

    def eliminate(k, a):
        def row(i, a):
            multiplier = a[i, k] / a[k, k]
            a = put(a, (i, k), multiplier)
            return fori(k + 1, n, lambda j, a: put(a, (i, j), a[i, j] - multiplier * a[k, j]), a)

        return fori(k + 1, n, row, a)

    return None, (fori(0, n, eliminate, a),)


@port(mutates=("a",))
def lu_partial_pivoting(a):
    n = a.shape[0]
    rows = jnp.arange(n)

    def eliminate(k, carry):
        a, perm = carry
        p = jnp.argmax(jnp.where(rows >= k, jnp.abs(a[:, k]), -jnp.inf))  # k + argmax(|a[k:, k]|)
        row_k, row_p = a[k], a[p]
        a = a.at[jnp.stack([k, p])].set(jnp.stack([row_p, row_k]))  # a no-op when p == k
        perm_k, perm_p = perm[k], perm[p]
        perm = perm.at[jnp.stack([k, p])].set(jnp.stack([perm_p, perm_k]))
        column = a[:, k]
        column = jnp.where(rows > k, column / a[k, k], column)  # a[k + 1:, k] /= a[k, k]
        a = put_column(a, k, column)
        trailing = (rows[:, None] > k) & (rows[None, :] > k)
        a = jnp.where(trailing, a - jnp.outer(column, a[k]), a)  # a[k + 1:, k + 1:] -= outer(...)
        return a, perm

    a, perm = fori(0, n - 1, eliminate, (a, jnp.arange(n)))
    return perm, (a,)


@port(mutates=("a",))
def gram_schmidt(a):
    n = a.shape[1]

    def column(k, carry):
        a, Q, R = carry
        a_k = a[:, k]
        r_kk = jnp.sqrt(jnp.sum(a_k * a_k))
        R = put(R, (k, k), r_kk)
        q_k = a_k / r_kk
        Q = put_column(Q, k, q_k)

        def project_out(j, carry):
            a, R = carry
            r_kj = jnp.dot(q_k, a[:, j])
            return put_column(a, j, a[:, j] - q_k * r_kj), put(R, (k, j), r_kj)

        a, R = fori(k + 1, n, project_out, (a, R))
        return a, Q, R

    a, Q, R = fori(0, n, column, (a, jnp.zeros_like(a), jnp.zeros((n, n), a.dtype)))
    return (Q, R), (a,)


@port()
def durbin(r):
    n = r.shape[0]
    idx = jnp.arange(n)

    def reversed_head(v, k):
        """np.flip(v[:k]) zero-padded to length n: a window of [flip(v), zeros]."""
        return lax.dynamic_slice(jnp.concatenate([jnp.flip(v), jnp.zeros_like(v)]), (n - k,), (n,))

    def step(k, carry):
        y, beta, alpha = carry
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + reversed_head(r, k) @ y) / beta  # y[k:] is still zero
        y = jnp.where(idx < k, y + alpha * reversed_head(y, k), y)
        return put(y, k, alpha), beta, alpha

    y = jnp.zeros_like(r).at[0].set(-r[0])
    y, _, _ = fori(1, n, step, (y, jnp.ones((), r.dtype), -r[0]))
    return y, ()


@port(static=("max_sweeps",))
def gauss_seidel_solve(A, b, tol, max_sweeps):
    n = b.shape[0]

    def unfinished(carry):
        _, change, sweeps = carry
        return (change > tol) & (sweeps < max_sweeps)

    def sweep(carry):
        x, _, sweeps = carry

        def relax_row(i, carry):
            x, change = carry
            s = fori(0, n, lambda j, s: jnp.where(j != i, s - A[i, j] * x[j], s), b[i])
            new = s / A[i, i]
            change = jnp.maximum(change, jnp.abs(new - x[i]))
            return put(x, i, new), change

        x, change = fori(0, n, relax_row, (x, jnp.zeros((), b.dtype)))
        return x, change, sweeps + 1

    x, _, sweeps = lax.while_loop(unfinished, sweep, (jnp.zeros_like(b), tol + 1.0, _int(0)))
    return (x, sweeps), ()


@port(static=("max_iter",))
def power_iteration(a, tol, max_iter):
    n = a.shape[0]

    def unfinished(carry):
        iterations, _, _, _, converged = carry
        return ~converged & (iterations < max_iter)

    def step(carry):
        iterations, v, lam, _, _ = carry
        w = a @ v
        v = w / jnp.linalg.norm(w)
        new_lam = v @ a @ v
        converged = jnp.abs(new_lam - lam) < tol  # the `break`
        lam = jnp.where(converged, lam, new_lam)
        return iterations + 1, v, lam, new_lam, converged

    v = jnp.ones(n) / jnp.sqrt(n)
    zero = jnp.zeros((), v.dtype)
    iterations, v, _, new_lam, _ = lax.while_loop(
        unfinished, step, (_int(0), v, zero, zero, jnp.asarray(False)))
    return (new_lam, v, iterations), ()


# Stencils.


@port(mutates=("a", "b"), static=("tsteps",))
def jacobi_1d(a, b, tsteps):
    n = a.shape[0]

    def step(t, carry):
        a, b = carry
        b = fori(1, n - 1, lambda i, b: put(b, i, 0.33333 * (a[i - 1] + a[i] + a[i + 1])), b)
        a = fori(1, n - 1, lambda i, a: put(a, i, 0.33333 * (b[i - 1] + b[i] + b[i + 1])), a)
        return a, b

    return None, fori(0, tsteps, step, (a, b))


@port(mutates=("a", "b"), static=("tsteps",))
def jacobi_2d(a, b, tsteps):
    def step(t, carry):
        a, b = carry
        b = b.at[1:-1, 1:-1].set(0.2 * (a[1:-1, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] + a[2:, 1:-1] + a[:-2, 1:-1]))
        a = a.at[1:-1, 1:-1].set(0.2 * (b[1:-1, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:] + b[2:, 1:-1] + b[:-2, 1:-1]))
        return a, b

    return None, fori(0, tsteps, step, (a, b))


@port(mutates=("a",), static=("tsteps",))
def seidel_1d(a, tsteps):
    n = a.shape[0]

    def sweep(t, a):
        return fori(1, n - 1, lambda i, a: put(a, i, (a[i - 1] + a[i] + a[i + 1]) / 3.0), a)

    return None, (fori(0, tsteps, sweep, a),)


@port(mutates=("a",), static=("tsteps",))
def seidel_2d(a, tsteps):
    n = a.shape[0]

    def point(i, j, a):
        return put(a, (i, j), (a[i - 1, j - 1] + a[i - 1, j] + a[i - 1, j + 1]
                               + a[i, j - 1] + a[i, j] + a[i, j + 1]
                               + a[i + 1, j - 1] + a[i + 1, j] + a[i + 1, j + 1]) / 9.0)

    def sweep(t, a):
        return fori(1, n - 1, lambda i, a: fori(1, n - 1, lambda j, a: point(i, j, a), a), a)

    return None, (fori(0, tsteps, sweep, a),)


# Graphs and dynamic programming.


@port(mutates=("dist",))
def floyd_warshall(dist):
    n = dist.shape[0]

    def relax(k, i, j, dist):
        through = dist[i, k] + dist[k, j]
        return put(dist, (i, j), jnp.where(through < dist[i, j], through, dist[i, j]))

    def via(k, dist):
        return fori(0, n, lambda i, dist: fori(0, n, lambda j, dist: relax(k, i, j, dist), dist), dist)

    return None, (fori(0, n, via, dist),)


@port(static=("match", "mismatch", "gap"))
def needleman_wunsch(a, b, match, mismatch, gap):
    n, m = a.shape[0], b.shape[0]
    score = jnp.zeros((n + 1, m + 1), jnp.int_)
    score = fori(1, n + 1, lambda i, score: put(score, (i, 0), i * gap), score)
    score = fori(1, m + 1, lambda j, score: put(score, (0, j), j * gap), score)

    def substitution(i, j):
        return jnp.where(a[i - 1] == b[j - 1], match, mismatch)

    def cell(i, j, score):
        best = jnp.maximum(jnp.maximum(score[i - 1, j - 1] + substitution(i, j), score[i - 1, j] + gap),
                           score[i, j - 1] + gap)
        return put(score, (i, j), best)

    score = fori(1, n + 1, lambda i, score: fori(1, m + 1, lambda j, score: cell(i, j, score), score), score)

    def unfinished(carry):
        i, j = carry[:2]
        return (i > 0) | (j > 0)

    def trace_back(carry):
        i, j, k, aligned_a, aligned_b = carry
        diagonal = (i > 0) & (j > 0) & (score[i, j] == score[i - 1, j - 1] + substitution(i, j))
        up = ~diagonal & (i > 0) & (score[i, j] == score[i - 1, j] + gap)
        takes_a = diagonal | up
        takes_b = ~up
        aligned_a = put(aligned_a, k, jnp.where(takes_a, a[i - 1], aligned_a[k]))
        aligned_b = put(aligned_b, k, jnp.where(takes_b, b[j - 1], aligned_b[k]))
        return i - takes_a, j - takes_b, k + 1, aligned_a, aligned_b

    unaligned = jnp.full(n + m, -1, jnp.int_)
    _, _, k, aligned_a, aligned_b = lax.while_loop(
        unfinished, trace_back, (_int(n), _int(m), _int(0), unaligned, unaligned))
    return (score, aligned_a, aligned_b, k), ()


@port()
def nussinov(seq):
    n = seq.shape[0]

    def cell(i, j, table):
        best = table[i, j]
        best = jnp.where(j - 1 >= 0, jnp.maximum(best, table[i, j - 1]), best)
        best = jnp.where(i + 1 < n, jnp.maximum(best, table[i + 1, j]), best)
        pair = jnp.where(seq[i] + seq[j] == 3, 1, 0)
        inner = table[i + 1, j - 1] + jnp.where(i < j - 1, pair, 0)
        best = jnp.where((j - 1 >= 0) & (i + 1 < n), jnp.maximum(best, inner), best)
        best = fori(i + 1, j, lambda k, best: jnp.maximum(best, table[i, k] + table[k + 1, j]), best)
        return put(table, (i, j), best)

    def row(t, table):
        i = n - 1 - t
        return fori(i + 1, n, lambda j, table: cell(i, j, table), table)

    return fori(0, n, row, jnp.zeros((n, n), jnp.int_)), ()


# Bits, scans, sorting, counting.


@port()
def crc16(data):
    def byte(i, crc):
        crc = crc ^ (data[i].astype(jnp.uint16) << 8)
        return fori(0, 8, lambda _, crc: jnp.where((crc & 0x8000) != 0, (crc << 1) ^ 0x1021, crc << 1), crc)

    return fori(0, data.shape[0], byte, jnp.uint16(0xFFFF)), ()


@port()
def crc32(data):
    polynomial = np.uint32(0xEDB88320)

    def byte(i, crc):
        crc = crc ^ data[i].astype(jnp.uint32)
        return fori(0, 8, lambda _, crc: jnp.where((crc & 1) != 0, (crc >> 1) ^ polynomial, crc >> 1), crc)

    crc = fori(0, data.shape[0], byte, jnp.uint32(0xFFFFFFFF))
    return crc ^ jnp.uint32(0xFFFFFFFF), ()


@port()
def prefix_sum(x):
    def add(total, x_i):
        total = total + x_i
        return total, total

    _, rest = lax.scan(add, x[0], x[1:])
    return jnp.concatenate([x[:1], rest]), ()


@port()
def prefix_sum_doubling(x):
    out = x
    offset = 1
    while offset < x.shape[0]:
        out = out.at[offset:].set(out[offset:] + out[:-offset])
        offset *= 2
    return out, ()


@port(static=("nbins",))
def histogram(x, nbins):
    return fori(0, x.shape[0], lambda i, hist: put(hist, x[i], hist[x[i]] + 1), jnp.zeros(nbins, jnp.int64)), ()


@port(static=("nbins",))
def histogram_binned(x, lo, hi, nbins):
    width = (hi - lo) / nbins

    def count(i, hist):
        b = jnp.floor((x[i] - lo) / width).astype(jnp.int64)
        b = jnp.where(x[i] == hi, nbins - 1, b)
        inside = (0 <= b) & (b < nbins)
        b = jnp.where(inside, b, 0)
        return put(hist, b, hist[b] + inside)

    return fori(0, x.shape[0], count, jnp.zeros(nbins, jnp.int64)), ()


@port(mutates=("a",))
def insertion_sort(a):
    def insert(i, a):
        key = a[i]

        def shifting(carry):
            a, j = carry
            return (j >= 0) & (a[j] > key)

        def shift(carry):
            a, j = carry
            return put(a, j + 1, a[j]), j - 1

        a, j = lax.while_loop(shifting, shift, (a, i - 1))
        return put(a, j + 1, key)

    return None, (fori(1, a.shape[0], insert, a),)


@port()
def fft(x):
    n = x.shape[0]

    def bit_reverse(i, carry):
        a, j = carry

        def has_bit(state):
            j, bit = state
            return (j & bit) != 0

        def clear_bit(state):
            j, bit = state
            return j ^ bit, bit >> 1

        j, bit = lax.while_loop(has_bit, clear_bit, (j, _int(n >> 1)))
        j = j ^ bit
        a_i, a_j = a[i], a[j]
        swap = i < j
        a = a.at[jnp.stack([i, j])].set(jnp.stack([jnp.where(swap, a_j, a_i), jnp.where(swap, a_i, a_j)]))
        return a, j

    a, _ = fori(1, n, bit_reverse, (x.astype(jnp.complex128), _int(0)))

    length = 2
    while length <= n:  # log2(n) stages, known when tracing
        half = length // 2
        w = np.exp(-2j * np.pi / length)

        def block(b, a, length=length, half=half, w=w):
            start = b * length

            def butterfly(k, carry):
                a, wk = carry
                u = a[start + k]
                v = a[start + k + half] * wk
                both = jnp.stack([start + k, start + k + half])
                return a.at[both].set(jnp.stack([u + v, u - v])), wk * w

            return fori(0, half, butterfly, (a, jnp.asarray(1.0 + 0.0j)))[0]

        a = fori(0, n // length, block, a)
        length *= 2
    return a, ()


@port(static=("max_iter",))
def mandelbrot(re, im, max_iter):
    h, w = im.shape[0], re.shape[0]
    zero = jnp.zeros((), re.dtype)

    def pixel(py, px, counts):
        cr, ci = re[px], im[py]

        def bounded(state):
            x, y, k = state
            return (x * x + y * y <= 4.0) & (k < max_iter)

        def iterate(state):
            x, y, k = state
            return x * x - y * y + cr, 2.0 * x * y + ci, k + 1

        _, _, k = lax.while_loop(bounded, iterate, (zero, zero, _int(0)))
        return put(counts, (py, px), k)

    counts = jnp.zeros((h, w), jnp.int64)
    counts = fori(0, h, lambda py, counts: fori(0, w, lambda px, counts: pixel(py, px, counts), counts), counts)
    return counts, ()
