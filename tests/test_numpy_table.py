"""docs/numpy.md's tables, run: the table and this module cannot drift apart.

Every name in every row of the tables has an example here (and every example a
row). Examples of rows marked supported run inside a compiled loop on
loop-carried values, batched into one compiled function per table, and must
match plain NumPy (values and dtypes, `oracle.assert_tree_close`); examples of
unsupported rows must raise the error the row names (`UnsupportedNumpyError`
unless it names another), whose message names the function, at the example's
line. Every difference a row documents has a check here that runs it.
"""

from __future__ import annotations

import ast
import builtins
import copy
import itertools
import pathlib
import re
import warnings
from dataclasses import dataclass

import jax
import numpy as np
import pytest

import refscript
from oracle import assert_tree_close, check, narrowed, x64
from refscript.runtime import windows
from tests.modules import import_source

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "numpy.md"
STATUSES = ("supported", "supported with a difference", "unsupported", "unrolls")


@dataclass(frozen=True)
class Row:
    table: str  # the heading above the table
    names: tuple  # the backquoted names of the first cell
    status: str
    difference: str


def documented_rows() -> list[Row]:
    """The rows of every table in docs/numpy.md whose second column is `status`."""
    rows, heading, in_table = [], None, False
    for line in DOC.read_text().splitlines():
        if line.startswith("#"):
            heading, in_table = line.lstrip("#").strip(), False
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip()[1:-1])]
        if len(cells) == 3 and cells[1] == "status":
            in_table = True
        elif in_table and not set(cells[0]) <= set("-: "):
            names = tuple(re.findall(r"`([^`]+)`", cells[0]))
            rows.append(Row(heading, names, cells[1], cells[2]))
    return rows


ROWS = documented_rows()
WINDOW_TABLE = "On slices with traced bounds"


def rows_with(status: str, windowed: bool = False) -> list[tuple[Row, str]]:
    return [(row, name) for row in ROWS if row.status == status and (row.table == WINDOW_TABLE) == windowed
            for name in row.names]


# Examples, by the name a row gives. Each is an expression over x, y (float64[6] in
# (0.1, 0.9)), m (float64[4, 4]), k (int64[6]), u (uint8[6]), b (bool[6]) and the loop
# index i; a tuple is several results, compared one by one.
EXAMPLES = {
    # Array creation
    "np.zeros": "np.zeros(3), np.zeros((2, 3), dtype=np.int32), np.zeros(x.shape)",
    "np.ones": "np.ones((2, 3)) * x[0], np.ones(2, np.uint8)",
    "np.empty": "np.empty(3).shape[0], np.empty((2, 2), np.int16).dtype == np.int16",
    "np.full": "np.full((2, 3), x[0]), np.full(3, 7), np.full(2, 1.5, dtype=np.float32)",
    "np.zeros_like": "np.zeros_like(k), np.zeros_like(x, dtype=np.uint8)",
    "np.ones_like": "np.ones_like(x) + x, np.ones_like(b)",
    "np.empty_like": "np.empty_like(m).shape[1], np.empty_like(u).dtype == np.uint8",
    "np.full_like": "np.full_like(x, 2.5) * x, np.full_like(k, x[0] * 10)",
    "np.arange": "np.arange(5) * x[0], np.arange(1, 7, 2), np.arange(0.5, 2.0, 0.5), np.arange(4, dtype=np.uint8)",
    "np.linspace": "np.linspace(0.0, x[0], 5), np.linspace(1, 2, 4, endpoint=False)",
    "np.logspace": "np.logspace(0.0, x[0], 4)",
    "np.geomspace": "np.geomspace(1.0, 1.0 + x[0], 4)",
    "np.eye": "np.eye(3) * x[0], np.eye(3, 4, 1), np.eye(2, dtype=int)",
    "np.identity": "np.identity(4) @ m",
    "np.tri": "np.tri(4) * m, np.tri(3, 2, -1)",
    "np.array": "np.array([x[0], y[1], 2.0]), np.array(k, dtype=np.float32), np.array([[1, 2], [3, 4]])",
    "np.asarray": "np.asarray(x), np.asarray([1, 2, 3]), np.asarray(k, dtype=np.int8)",
    "np.asanyarray": "np.asanyarray(x)",
    "np.ascontiguousarray": "np.ascontiguousarray(m.T)",
    "np.asfortranarray": "np.asfortranarray(m)",
    "np.copy": "np.copy(m)",
    "np.diag": "np.diag(x), np.diag(m), np.diag(m, 1)",
    "np.diagflat": "np.diagflat(x[:3])",
    "np.tril": "np.tril(m), np.tril(m, -1)",
    "np.triu": "np.triu(m, 1)",
    "np.meshgrid": "np.meshgrid(x[:3], y[:2])[0], np.meshgrid(x[:3], y[:2], indexing='ij')[1]",
    "np.indices": "np.indices((2, 3))",
    "np.vander": "np.vander(x[:3]), np.vander(x[:3], 2, increasing=True)",
    "np.fromfunction": "np.fromfunction(lambda r, c: r * 10 + c, (2, 3))",
    "np.zeros(i)": "np.zeros(i), np.arange(i), np.ones((i + 1, 2))",
    # Elementwise math and ufuncs
    "np.add": "np.add(x, y), np.add(k, 1), np.add(u, u)",
    "np.subtract": "np.subtract(x, y), np.subtract(u, 1)",
    "np.multiply": "np.multiply(x, k), np.multiply(u, 3)",
    "np.divide": "np.divide(x, y), np.divide(k, 4)",
    "np.true_divide": "np.true_divide(k, 3)",
    "np.floor_divide": "np.floor_divide(x, y * 0.3), np.floor_divide(k - 3, 2)",
    "np.power": "np.power(x, y), np.power(k, 2), np.power(2.0, k)",
    "np.float_power": "np.float_power(k, 2)",
    "np.mod": "np.mod(x - 0.5, 0.3), np.mod(k - 3, 4), np.mod(k - 3, -4)",
    "np.remainder": "np.remainder(k - 3, 4)",
    "np.fmod": "np.fmod(x - 0.5, 0.3), np.fmod(k - 3, 4)",
    "np.divmod": "np.divmod(k - 3, 4)[0], np.divmod(x, 0.3)[1]",
    "np.negative": "np.negative(x), np.negative(u)",
    "np.positive": "np.positive(k)",
    "np.absolute": "np.absolute(x - 0.5)",
    "np.abs": "np.abs(x - 0.5), np.abs(k - 3), np.abs(np.int8(-128) + k[0] * 0)",
    "np.fabs": "np.fabs(x - 0.5)",
    "np.sign": "np.sign(x - 0.5), np.sign(k - 3)",
    "np.sqrt": "np.sqrt(x), np.sqrt(k), np.sqrt(x - 0.5)",
    "np.cbrt": "np.cbrt(x - 0.5)",
    "np.square": "np.square(x), np.square(k)",
    "np.reciprocal": "np.reciprocal(x)",
    "np.exp": "np.exp(x)", "np.exp2": "np.exp2(x)", "np.expm1": "np.expm1(x)",
    "np.log": "np.log(x), np.log(k)", "np.log2": "np.log2(x)", "np.log10": "np.log10(x)",
    "np.log1p": "np.log1p(x)", "np.logaddexp": "np.logaddexp(x, y)", "np.logaddexp2": "np.logaddexp2(x, y)",
    "np.sin": "np.sin(x)", "np.cos": "np.cos(x)", "np.tan": "np.tan(x)",
    "np.arcsin": "np.arcsin(x)", "np.arccos": "np.arccos(x)", "np.arctan": "np.arctan(x)",
    "np.arctan2": "np.arctan2(x - 0.5, y - 0.5)", "np.hypot": "np.hypot(x, y)",
    "np.asin": "np.asin(x)", "np.acos": "np.acos(x)", "np.atan": "np.atan(x)", "np.atan2": "np.atan2(x, y)",
    "np.sinh": "np.sinh(x)", "np.cosh": "np.cosh(x)", "np.tanh": "np.tanh(x)",
    "np.arcsinh": "np.arcsinh(x)", "np.arccosh": "np.arccosh(1 + x)", "np.arctanh": "np.arctanh(x)",
    "np.deg2rad": "np.deg2rad(x)", "np.rad2deg": "np.rad2deg(x)", "np.degrees": "np.degrees(x)",
    "np.radians": "np.radians(x)",
    "np.floor": "np.floor(4 * x - 2), np.floor(k)", "np.ceil": "np.ceil(4 * x - 2)",
    "np.trunc": "np.trunc(4 * x - 2)", "np.fix": "np.fix(4 * x - 2), np.fix(k)",
    "np.rint": "np.rint(4 * x - 2), np.rint(np.array([0.5, 1.5, 2.5, -0.5]) + x[0] * 0)",
    "np.round": "np.round(4 * x - 2), np.round(x, 2), np.round(np.array([2.5, 1234.5]) + x[0] * 0, -1), np.round(k)",
    "np.around": "np.around(x, 1)",
    "np.clip": "np.clip(x, 0.3, 0.6), np.clip(k, 1, 4), np.clip(x, a_min=0.3, a_max=0.6), np.clip(x, max=0.5)",
    "np.maximum": "np.maximum(x, y), np.maximum(k, 2), np.maximum(x, np.log(x - 0.5))",
    "np.minimum": "np.minimum(x, y), np.minimum(u, 100)",
    "np.fmax": "np.fmax(x, np.log(x - 0.5))", "np.fmin": "np.fmin(x, np.log(x - 0.5))",
    "np.isnan": "np.isnan(np.log(x - 0.5))", "np.isinf": "np.isinf(1.0 / (k - 3))",
    "np.isfinite": "np.isfinite(np.log(x - 0.5))", "np.signbit": "np.signbit(x - 0.5)",
    "np.copysign": "np.copysign(x, y - 0.5)", "np.nextafter": "np.nextafter(x, 1.0)",
    "np.spacing": "np.spacing(x)", "np.ldexp": "np.ldexp(x, k)", "np.frexp": "np.frexp(x)[0], np.frexp(x)[1]",
    "np.modf": "np.modf(4 * x - 2)[0], np.modf(4 * x - 2)[1]", "np.heaviside": "np.heaviside(x - 0.5, 0.5)", "np.sinc": "np.sinc(x)",
    "np.nan_to_num": "np.nan_to_num(np.log(x - 0.5)), np.nan_to_num(1.0 / (k - 3))",
    "np.real": "np.real(x + 1j * y)", "np.imag": "np.imag(x + 1j * y)", "np.conj": "np.conj(x + 1j * y)",
    "np.conjugate": "np.conjugate(x + 1j * y)", "np.angle": "np.angle(x + 1j * y)",
    "np.greater": "np.greater(x, y)", "np.less": "np.less(x, y)", "np.equal": "np.equal(k, 3)",
    "np.not_equal": "np.not_equal(k, 3)", "np.greater_equal": "np.greater_equal(x, y)",
    "np.less_equal": "np.less_equal(x, y)",
    "np.logical_and": "np.logical_and(b, x > 0.5)", "np.logical_or": "np.logical_or(b, x > 0.5)",
    "np.logical_xor": "np.logical_xor(b, x > 0.5)", "np.logical_not": "np.logical_not(b)",
    "np.isclose": "np.isclose(x, y, atol=0.2)", "np.allclose": "np.allclose(x, y, atol=0.2)",
    "np.array_equal": "np.array_equal(x, y), np.array_equal(k, k)",
    "np.where(c, a, b)": "np.where(x > y, x, 0.0), np.where(b, k, -1)",
    "np.select": "np.select([x < 0.3, x > 0.6], [x, -x], 0.5)",
    "np.piecewise": "np.piecewise(x, [x < 0.5, x >= 0.5], [lambda v: -v, lambda v: v * 2])",
    "np.vectorize": "np.vectorize(lambda v: v * 2 + 1)(x)",
    "np.apply_along_axis": "np.apply_along_axis(lambda r: r.sum() * 2, 1, m)",
    "np.interp": "np.interp(x, [0.0, 0.5, 1.0], y[:3])",
    "np.convolve": "np.convolve(x, y[:3]), np.convolve(x, y[:3], 'same')",
    "np.correlate": "np.correlate(x, y[:3])",
    "np.diff": "np.diff(x), np.diff(x, 2), np.diff(x, prepend=0.0), np.diff(k)",
    "np.ediff1d": "np.ediff1d(x)", "np.gradient": "np.gradient(x)",
    "np.trapezoid": "np.trapezoid(x), np.trapezoid(x, y)",
    "np.add.outer": "np.add.outer(x, y[:3])", "np.multiply.outer": "np.multiply.outer(x, k)",
    "np.add.reduce": "np.add.reduce(m, axis=1), np.add.reduce(u)",
    "np.maximum.reduce": "np.maximum.reduce(x)",
    "np.add.accumulate": "np.add.accumulate(x), np.add.accumulate(u)",
    "np.maximum.accumulate": "np.maximum.accumulate(x), np.maximum.accumulate(u)",
    "np.multiply.reduce": "np.multiply.reduce(k + 1)",
    "np.logical_and.reduce": "np.logical_and.reduce(b)",
    "np.add.at": "np.add.at(x, k, 1.0)",
    "out=": "np.add(x, y, out=x)",
    # Reductions and statistics
    "np.sum": "np.sum(m, axis=0), np.sum(u), np.sum(b), np.sum(x, dtype=np.float32)",
    "np.prod": "np.prod(x), np.prod(k + 1), np.prod(u)",
    "np.mean": "np.mean(m, axis=1), np.mean(k)",
    "np.std": "np.std(x), np.std(m, axis=0, ddof=1)", "np.var": "np.var(x), np.var(k)",
    "np.min": "np.min(x), np.min(m, axis=1), np.min(u)", "np.max": "np.max(m, axis=0), np.max([x[0], y[0]])",
    "np.amin": "np.amin(x)", "np.amax": "np.amax(m, axis=1)",
    "np.argmin": "np.argmin(x), np.argmin(m, axis=0)", "np.argmax": "np.argmax(x), np.argmax(m, axis=1)",
    "np.all": "np.all(b), np.all(x > 0)", "np.any": "np.any(b), np.any(m > 0.5, axis=0)",
    "np.median": "np.median(x), np.median(m, axis=0)",
    "np.percentile": "np.percentile(x, 30.0), np.percentile(x, [25, 75])",
    "np.quantile": "np.quantile(m, 0.5, axis=1)",
    "np.average": "np.average(x, weights=y), np.average(m, axis=0)",
    "np.nansum": "np.nansum(np.log(x - 0.3))", "np.nanmean": "np.nanmean(np.log(x - 0.3))",
    "np.nanmax": "np.nanmax(np.log(x - 0.3))", "np.nanmin": "np.nanmin(np.log(x - 0.3))",
    "np.nanstd": "np.nanstd(np.log(x - 0.3))", "np.nanvar": "np.nanvar(np.log(x - 0.3))",
    "np.nanprod": "np.nanprod(np.log(x - 0.3))", "np.nanargmax": "np.nanargmax(np.log(x - 0.3))",
    "np.nanargmin": "np.nanargmin(np.log(x - 0.3))", "np.nanmedian": "np.nanmedian(np.log(x - 0.3))",
    "np.nancumsum": "np.nancumsum(np.log(x - 0.3))",
    "np.cumsum": "np.cumsum(u), np.cumsum(b), np.cumsum(m, axis=1)",
    "np.cumprod": "np.cumprod(x), np.cumprod(u)",
    "np.cumulative_sum": "np.cumulative_sum(x), np.cumulative_sum(u)",
    "np.cumulative_prod": "np.cumulative_prod(u)",
    "np.ptp": "np.ptp(x), np.ptp(k)",
    "np.count_nonzero": "np.count_nonzero(b), np.count_nonzero(m > 0.5, axis=0)",
    "np.trace": "np.trace(m)", "np.cov": "np.cov(m)", "np.corrcoef": "np.corrcoef(m)",
    "np.histogram": "np.histogram(x, bins=3)[0], np.histogram(x, bins=[0, 0.5, 1.0])[1], np.histogram(x, 2, weights=k)[0]",
    "np.bincount": "np.bincount(k)",
    # Linear algebra
    "np.dot": "np.dot(x, y), np.dot(m, x[:4]), np.dot(k, k), np.dot(m, m)",
    "a @ b": "x @ y, m @ m, m @ x[:4]",
    "np.matmul": "np.matmul(m, m)", "np.vdot": "np.vdot(x, y)", "np.inner": "np.inner(x, y)",
    "np.outer": "np.outer(x, y)", "np.tensordot": "np.tensordot(m, m, axes=1)",
    "np.einsum": "np.einsum('ij,j->i', m, x[:4]), np.einsum('ii', m)",
    "np.kron": "np.kron(x[:2], y[:3])", "np.cross": "np.cross(x[:3], y[:3])",
    # numpy.linalg
    "np.linalg.norm": "np.linalg.norm(x), np.linalg.norm(m, axis=0), np.linalg.norm(m, 1), np.linalg.norm(m, 'fro')",
    "np.linalg.solve": "np.linalg.solve(m + 4 * np.eye(4), x[:4])",
    "np.linalg.inv": "np.linalg.inv(m + 4 * np.eye(4))",
    "np.linalg.det": "np.linalg.det(m)", "np.linalg.slogdet": "np.linalg.slogdet(m)[0], np.linalg.slogdet(m)[1]",
    "np.linalg.cholesky": "np.linalg.cholesky(m @ m.T + np.eye(4))",
    "np.linalg.qr": "np.abs(np.linalg.qr(m)[1])", "np.linalg.svd": "np.linalg.svd(m)[1]",
    "np.linalg.eigh": "np.linalg.eigh(m + m.T)[0]", "np.linalg.eigvalsh": "np.linalg.eigvalsh(m + m.T)",
    "np.linalg.eig": "np.sort(np.linalg.eig(m + m.T)[0].real)",
    "np.linalg.eigvals": "np.sort(np.linalg.eigvals(m + m.T).real)",
    "np.linalg.lstsq": "np.linalg.lstsq(m[:, :2], x[:4])[0]", "np.linalg.pinv": "np.linalg.pinv(m[:, :2])",
    "np.linalg.matrix_rank": "np.linalg.matrix_rank(m)",
    "np.linalg.matrix_power": "np.linalg.matrix_power(m, 3), np.linalg.matrix_power(m, 0)",
    "np.linalg.multi_dot": "np.linalg.multi_dot([m, m, x[:4]])", "np.linalg.cond": "np.linalg.cond(m)",
    # numpy.fft
    "np.fft.fft": "np.fft.fft(x), np.fft.fft(x, 8)", "np.fft.ifft": "np.fft.ifft(x)",
    "np.fft.rfft": "np.fft.rfft(x)", "np.fft.irfft": "np.fft.irfft(np.fft.rfft(x))",
    "np.fft.fft2": "np.fft.fft2(m)", "np.fft.ifft2": "np.fft.ifft2(m)",
    "np.fft.fftn": "np.fft.fftn(m)", "np.fft.ifftn": "np.fft.ifftn(m)",
    "np.fft.rfftn": "np.fft.rfftn(m)", "np.fft.irfftn": "np.fft.irfftn(m)",
    "np.fft.hfft": "np.fft.hfft(x)", "np.fft.ihfft": "np.fft.ihfft(x)",
    "np.fft.fftfreq": "np.fft.fftfreq(6) * x, np.fft.fftfreq(4, 0.5)", "np.fft.rfftfreq": "np.fft.rfftfreq(6)",
    "np.fft.fftshift": "np.fft.fftshift(x)", "np.fft.ifftshift": "np.fft.ifftshift(x)",
    # Shape and indexing
    "np.reshape": "np.reshape(m, (2, 8)), np.reshape(x, (3, -1))", "np.ravel": "np.ravel(m)",
    "np.transpose": "np.transpose(m), np.transpose(m, (1, 0))", "np.swapaxes": "np.swapaxes(m, 0, 1)",
    "np.moveaxis": "np.moveaxis(np.reshape(x, (1, 2, 3)), 0, -1)", "np.expand_dims": "np.expand_dims(x, 1)",
    "np.squeeze": "np.squeeze(np.reshape(x, (1, 6, 1)))",
    "np.concatenate": "np.concatenate([x, y, k]), np.concatenate((m, m), axis=1)",
    "np.stack": "np.stack([x, y]), np.stack((x, y), axis=1)", "np.vstack": "np.vstack([x, y])",
    "np.hstack": "np.hstack([x, y])", "np.dstack": "np.dstack([x, y])", "np.column_stack": "np.column_stack([x, y])",
    "np.row_stack": "np.row_stack([x, y])", "np.block": "np.block([[m, m], [m, m]])",
    "np.split": "np.split(x, 2)[1], np.split(x, [1, 4])[1]", "np.array_split": "np.array_split(x, 4)[3]",
    "np.hsplit": "np.hsplit(m, 2)[0]", "np.vsplit": "np.vsplit(m, 2)[1]",
    "np.tile": "np.tile(x, 2), np.tile(x, (2, 1))",
    "np.repeat": "np.repeat(x, 2), np.repeat(x, [2, 0, 1, 3, 2, 4]), np.repeat(m, 2, axis=0)",
    "np.flip": "np.flip(x), np.flip(m, 0)", "np.fliplr": "np.fliplr(m)", "np.flipud": "np.flipud(m)",
    "np.roll": "np.roll(x, -1), np.roll(m, 1, axis=1)", "np.rot90": "np.rot90(m)",
    "np.broadcast_to": "np.broadcast_to(x, (3, 6))", "np.broadcast_arrays": "np.broadcast_arrays(x, m[:1, :1])[1]",
    "np.atleast_1d": "np.atleast_1d(x[0])", "np.atleast_2d": "np.atleast_2d(x)", "np.atleast_3d": "np.atleast_3d(x)",
    "np.take": "np.take(x, k[:3]), np.take(m, k[:2] % 4, axis=1), np.take(x, -1)",
    "np.take_along_axis": "np.take_along_axis(m, np.argsort(m, axis=1), axis=1)",
    "np.append": "np.append(x, y[:2])", "np.insert": "np.insert(x, 2, 7.0)",
    "np.delete": "np.delete(x, [0, 3]), np.delete(m, 1, axis=0)",
    "np.pad": "np.pad(x, (1, 3), mode='edge'), np.pad(m, 1, constant_values=9.0)",
    "np.diagonal": "np.diagonal(m), np.diagonal(m, 1)",
    "np.triu_indices": "m[np.triu_indices(4)]", "np.tril_indices": "m[np.tril_indices(4, -1)]",
    "np.diag_indices": "m[np.diag_indices(4)]", "np.ix_": "np.ix_([0, 2], [1, 3])[0], m[np.ix_([0, 2], [1, 3])]",
    "np.unravel_index": "np.unravel_index(k, (2, 3))[0], np.unravel_index(k, (2, 3))[1]",
    "np.ravel_multi_index": "np.ravel_multi_index((k % 2, k % 3), (2, 3), mode='clip')",
    "np.choose": "np.choose(k % 2, [x, y], mode='wrap')",
    "np.shape": "np.shape(m)[1]", "np.size": "np.size(m)", "np.ndim": "np.ndim(m)",
    "np.resize": "np.resize(x, (2, 4))",
    "np.nonzero": "np.nonzero(x > 0.5)", "np.where(c)": "np.where(x > 0.5)",
    "np.argwhere": "np.argwhere(x > 0.5)", "np.flatnonzero": "np.flatnonzero(x > 0.5)",
    "np.extract": "np.extract(x > 0.5, x)", "np.compress": "np.compress(x > 0.5, x)",
    "np.trim_zeros": "np.trim_zeros(k)", "x[x > 0.5]": "x[x > 0.5]",
    "np.put": "np.put(x, [0], 5.0)", "np.put_along_axis": "np.put_along_axis(x, k[:1], 5.0, axis=0)",
    "np.place": "np.place(x, b, 0.0)", "np.putmask": "np.putmask(x, b, 0.0)", "np.copyto": "np.copyto(x, y)",
    "np.fill_diagonal": "np.fill_diagonal(m, 1.0)",
    # Sorting, searching and sets
    "np.sort": "np.sort(x), np.sort(m, axis=0), np.sort(np.log(x - 0.5)), np.sort(k % 3, kind='stable')",
    "np.argsort": "np.argsort(x), np.argsort(m, axis=0), np.argsort(np.log(x - 0.5))",
    "np.lexsort": "np.lexsort((x, k % 2))",
    "np.partition": "np.partition(x, 2)[2]", "np.argpartition": "x[np.argpartition(x, 2)[2]]",
    "np.searchsorted": "np.searchsorted(np.sort(y), x), np.searchsorted(np.sort(y), x, side='right')",
    "np.digitize": "np.digitize(x, np.array([0.25, 0.5, 0.75]))",
    "np.isin": "np.isin(k, k[:2]), np.isin(k, [1, 2])", "np.sort_complex": "np.sort_complex(x + 1j * y)",
    "np.unique": "np.unique(k)", "np.unique_values": "np.unique_values(k)",
    "np.unique_counts": "np.unique_counts(k)", "np.unique_inverse": "np.unique_inverse(k)",
    "np.unique_all": "np.unique_all(k)", "np.union1d": "np.union1d(k, u)",
    "np.intersect1d": "np.intersect1d(k, u)", "np.setdiff1d": "np.setdiff1d(k, u)", "np.setxor1d": "np.setxor1d(k, u)",
    # Bitwise and integer
    "np.bitwise_and": "np.bitwise_and(u, 0x0F), np.bitwise_and(k, 3)", "np.bitwise_or": "np.bitwise_or(u, 0x80)",
    "np.bitwise_xor": "np.bitwise_xor(u, u[::-1])", "np.invert": "np.invert(u), np.invert(k), np.invert(b)",
    "np.bitwise_not": "np.bitwise_not(b)", "np.bitwise_invert": "np.bitwise_invert(u)",
    "np.left_shift": "np.left_shift(u, 3), np.left_shift(u, 9)",
    "np.right_shift": "np.right_shift(u, 2), np.right_shift(k - 3, 1)",
    "np.bitwise_left_shift": "np.bitwise_left_shift(k, 2)", "np.bitwise_right_shift": "np.bitwise_right_shift(u, 1)",
    "np.bitwise_count": "np.bitwise_count(u)", "np.gcd": "np.gcd(k, 4)", "np.lcm": "np.lcm(k, 4)",
    "np.packbits": "np.packbits(b)", "np.unpackbits": "np.unpackbits(u)",
    "a ^ b": "u ^ u[::-1], k ^ 5, b ^ (x > 0.5)", "a & b": "u & 0x3C, k & u", "a | b": "k | 8, u | True",
    "a << b": "u << 2, u << u, k << 62", "a >> b": "u >> 1, (k - 3) >> 1, u >> u", "~a": "~u, ~k, ~b",
    "a // b": "k // 4, (k - 3) // -2, u // 3", "a % b": "k % 4, (k - 3) % -4, u % 3",
    "a ** b": "k ** 2, u ** 2, k ** k",
    "u + 300": "u + 300, u ^ 256",
    # Dtypes and scalar types
    "np.float32": "np.float32(x[0]), np.float32(1.5)", "np.float64": "np.float64(k[0])",
    "np.float16": "np.float16(x[0])", "np.int8": "np.int8(k[0])", "np.int16": "np.int16(k[0])",
    "np.int32": "np.int32(x[0] * 10)", "np.int64": "np.int64(x[0] * 10)", "np.intp": "np.intp(x[0] * 10)",
    "np.uint8": "np.uint8(k[0] + 253)", "np.uint16": "np.uint16(k[0])", "np.uint32": "np.uint32(k[0])",
    "np.uint64": "np.uint64(k[0])", "np.bool_": "np.bool_(x[0] > 0.5)", "np.complex64": "np.complex64(x[0])",
    "np.complex128": "np.complex128(x[0])", "np.double": "np.double(k[0])", "np.single": "np.single(x[0])",
    "dtype=np.float32": "np.zeros(3, dtype=np.float32), x.astype(np.float32)",
    "dtype='float32'": "np.ones(3, dtype='float32'), np.arange(3, dtype='uint16')",
    "dtype=float": "np.zeros(3, dtype=float), k.astype(float)",
    "dtype=int": "np.arange(3, dtype=int), (x * 10).astype(int)",
    "dtype=bool": "np.zeros(3, dtype=bool), k.astype(bool)", "dtype=complex": "np.zeros(2, dtype=complex)",
    "np.dtype": "np.zeros(2, dtype=np.dtype('int16'))",
    "np.finfo": "np.finfo(np.float64).eps * x", "np.iinfo": "np.iinfo(np.int16).max + k",
    "np.result_type": "np.zeros(2, np.result_type(u, np.int16))",
    "np.promote_types": "np.zeros(2, np.promote_types(np.uint8, np.int8))",
    "np.can_cast": "x * np.can_cast(np.int8, np.int16)", "np.issubdtype": "x * np.issubdtype(k.dtype, np.integer)",
    "np.pi": "x * np.pi", "np.e": "x * np.e", "np.inf": "np.minimum(x, np.inf)", "np.nan": "np.fmax(x, np.nan)",
    "np.newaxis": "(x * 1.0)[:, np.newaxis] * y",
    "a + b": "k + x.astype(np.float32), u.astype(np.uint32) + x.astype(np.float32)",
    "x.astype(int)": "(x * 10 - 3).astype(int), (x * 10 - 3).astype(np.uint8)",
    # Array methods and attributes
    "x.copy()": "x.copy()", "x.T": "m.T", "x.shape": "m.shape[0], m.shape[1], x.shape[0]", "x.ndim": "m.ndim", "x.size": "m.size",
    "x.dtype": "np.zeros(2, dtype=u.dtype), np.zeros(2, k.dtype)",
    "x.astype": "x.astype(np.float32), (x * 10).astype(int), u.astype(np.int16)",
    "len(x)": "len(m), len(x)", "x.sum()": "m.sum(), m.sum(axis=0), u.sum()", "x.mean()": "m.mean(1), k.mean()",
    "x.max()": "m.max(axis=1), k.max()", "x.min()": "m.min()", "x.argmax()": "x.argmax()",
    "x.argmin()": "m.argmin(axis=0)", "x.prod()": "x.prod()", "x.std()": "x.std()", "x.var()": "x.var()",
    "x.cumsum()": "x.cumsum(), k.cumsum()", "x.cumprod()": "x.cumprod()", "x.any()": "b.any()", "x.all()": "b.all()",
    "x.reshape": "m.reshape(2, 8), m.reshape((8, 2))", "x.ravel()": "m.ravel()", "x.flatten()": "m.flatten()",
    "x.transpose()": "m.transpose()", "x.swapaxes": "m.swapaxes(0, 1)", "x.dot": "m.dot(x[:4])",
    "x.clip": "x.clip(0.3, 0.6)", "x.round()": "(4 * x).round(), x.round(2)", "x.conj()": "(x + 1j * y).conj()",
    "x.real": "(x + 1j * y).real", "x.imag": "(x + 1j * y).imag", "x.diagonal()": "m.diagonal()",
    "x.trace()": "m.trace()", "x.squeeze()": "np.reshape(x, (1, 6)).squeeze()", "x.take": "x.take(k)",
    "x.repeat": "x.repeat(2)", "x.argsort()": "x.argsort()", "x.searchsorted": "np.sort(x).searchsorted(y)",
    "x.nbytes": "m.nbytes", "x.itemsize": "m.itemsize",
    "x[None]": "(x * 1.0)[None], (m * 1.0)[:, None, :1]", "x[..., 0]": "m[..., 0]",
    "x[k]": "x[k], m[k[:4] % 4, k[2:] % 4], x[[0, 2]]",
    "x.sort()": "x.sort()", "x.fill": "x.fill(0.0)", "x.resize": "x.resize((2, 3))", "x.put": "x.put([0], 1.0)",
    "x.flat": "x.flat[3]", "x.item()": "x[0].item()", "x.tolist()": "x.tolist()",
    # Random numbers
    "np.random.rand": "np.random.rand(3)", "np.random.randn": "np.random.randn(3)",
    "np.random.random": "np.random.random(3)", "np.random.normal": "np.random.normal(size=3)",
    "np.random.uniform": "np.random.uniform(size=3)", "np.random.randint": "np.random.randint(0, 5, 3)",
    "np.random.choice": "np.random.choice(x)", "np.random.shuffle": "np.random.shuffle(x)",
    "np.random.permutation": "np.random.permutation(x)", "np.random.seed": "np.random.seed(0)",
    "np.random.default_rng": "np.random.default_rng(0).normal(size=3)",
}

# Slices with traced bounds: the loop index is i in 1, ..., 5; `i` selects a prefix.
WINDOW_EXAMPLES = {
    "np.sum": "np.sum(x[:i]), np.sum(x[i:] * y[i:])", "np.mean": "np.mean(x[:i])",
    "np.max": "np.max(x[:i])", "np.amax": "np.amax(x[i:])", "np.min": "np.min(x[:i])", "np.amin": "np.amin(x[i:])",
    "np.dot": "np.dot(x[:i], y[:i])", "np.vdot": "np.vdot(x[:i], y[:i])", "np.inner": "np.inner(x[:i], y[:i])",
    "np.matmul": "np.matmul(x[:i], y[:i])", "a @ b": "x[:i] @ y[:i], m[1, :i % 4] @ m[:i % 4, 2]",
    "np.flip": "np.dot(np.flip(x[:i]), y[:i])", "np.copy": "np.sum(np.copy(x[:i]))",
    "np.abs": "np.sum(np.abs(x[:i] - 0.5))", "np.absolute": "np.sum(np.absolute(x[:i] - 0.5))",
    "np.negative": "np.sum(np.negative(x[:i]))", "np.add": "np.sum(np.add(x[:i], 1.0))",
    "np.subtract": "np.sum(np.subtract(x[:i], y[:i]))", "np.multiply": "np.sum(np.multiply(x[:i], y[:i]))",
    "np.divide": "np.sum(np.divide(x[:i], y[:i]))", "np.true_divide": "np.sum(np.true_divide(x[:i], 2.0))",
    "np.sqrt": "np.sum(np.sqrt(x[:i]))", "np.exp": "np.sum(np.exp(x[:i]))", "np.log": "np.sum(np.log(x[:i]))",
    "np.sin": "np.sum(np.sin(x[:i]))", "np.cos": "np.sum(np.cos(x[:i]))", "np.tanh": "np.sum(np.tanh(x[:i]))",
    "np.square": "np.sum(np.square(x[:i]))", "np.floor": "np.sum(np.floor(4 * x[:i]))",
    "np.ceil": "np.sum(np.ceil(4 * x[:i]))",
    "w + v": "np.sum(x[:i] + y[:i]), np.sum(x[:i] + 1.0)", "w - v": "np.sum(x[1:i + 1] - x[:i])",
    "w * v": "np.sum(x[:i] * 2.0)", "w / v": "np.sum(x[:i] / y[:i])", "w ** v": "np.sum(x[:i] ** 2)",
    "-w": "np.sum(-x[:i])", "abs(w)": "np.sum(abs(x[:i] - 0.5))",
    "w[::-1]": "np.dot(x[:i][::-1], y[:i])", "w[j]": "x[1:i + 1][0]", "w.sum()": "x[:i].sum()",
    "np.median": "np.median(x[:i])", "np.cumsum": "np.cumsum(x[:i])[-1]", "np.sort": "np.sort(x[:i])[0]",
    "jnp.sum": "jnp.sum(x[:i])", "len(w)": "len(x[:i]) * x[0]", "m[:i, ::2]": "np.sum(m[:i % 4, ::2])",
    "np.argmax": "np.argmax(x[:i])", "np.argmin": "np.argmin(x[i:])", "w.argmax()": "x[i - 1:].argmax()",
    "w.argmin()": "x[:i].argmin()", "m[:i, j:]": "np.sum(m[:i % 4, i % 3:] - m[:i % 4, i % 3:] * 0.5 + 1.0)",
    "np.outer": "np.sum(np.outer(x[:i], y[i:]))",
}

# What the expected error's message must name, where the row's name is not it.
ERROR_NAMES = {
    "out=": "numpy.add(..., out=...)", "np.where(c)": "numpy.where with one argument", "x[x > 0.5]": "boolean mask",
    "x.sort()": "sort", "x.fill": "fill", "x.resize": "resize", "x.put": "put", "x.flat": "flat",
    "x.item()": "item()", "x.tolist()": "tolist()",
}


def example_arguments():
    """The arguments of every example (`PARAMETERS`); 32-bit copies in 32-bit mode (`pytest --x32`)."""
    rng = np.random.default_rng(7)
    return narrowed((rng.uniform(0.1, 0.9, 6), rng.uniform(0.1, 0.9, 6), rng.normal(size=(4, 4)),
                     np.array([3, 0, 5, 1, 4, 2]), np.array([0, 1, 127, 128, 200, 255], np.uint8),
                     np.array([True, False, True, True, False, False])))


PARAMETERS = "x, y, m, k, u, b"
_module_numbers = itertools.count()


def load(source: str, directory: pathlib.Path):
    """The module of `source`, written to a file of its own (refscript reads the source)."""
    name = f"numpy_table_{next(_module_numbers)}"
    return import_source("import jax.numpy as jnp\nimport numpy as np\n\n\n" + source, directory / f"{name}.py")


def loop_function(name: str, expressions: list[str], loop="range(3)", carried=True, initial=None) -> str:
    """A function computing every expression in a compiled loop; each iteration reverses the
    arguments, so the expressions see loop-carried values. Tuple expressions give one result each.

    `initial`, the (shape, dtype) of each result, gives every result a value of its type
    before the loop: refscript retraces once for each variable that a compiled loop binds first.
    """
    assignments, results = [], []
    for number, expression in enumerate(expressions):
        tree = ast.parse(expression, mode="eval").body
        count = len(tree.elts) if isinstance(tree, ast.Tuple) else 1
        targets = [f"r{number}_{j}" for j in range(count)]
        assignments.append(f"{', '.join(targets)}{',' if count == 1 and isinstance(tree, ast.Tuple) else ''} = {expression}")
        results += targets
    lines = [f"def {name}({PARAMETERS}):"]
    for target, (shape, dtype) in zip(results, initial or ()):
        lines.append(f"    {target} = np.zeros({shape}, np.{dtype})")
    lines.append(f"    for i in {loop}:")
    if carried:
        lines += [f"        {p} = {p}[::-1]" for p in PARAMETERS.split(", ")]
    lines += [f"        {a}" for a in assignments]
    lines.append(f"    return ({', '.join(results)},)")
    return "\n".join(lines) + "\n"


def compiled_types(expressions: list[str], tmp_path, first: int) -> list:
    """The (shape, dtype) of each result of `expressions` in compiled code (traced, not compiled)."""
    body = "".join(f"    r{number} = {expression}\n" for number, expression in enumerate(expressions))
    results = ", ".join(f"r{number}" for number in range(len(expressions)))
    module = load(f"def types({PARAMETERS}):\n    i = {first}\n{body}    return ({results},)\n", tmp_path)
    closed = refscript.make_jaxpr(module.types)(*example_arguments())
    return [(aval.shape, aval.dtype.name) for aval in closed.out_avals]


def run_against_numpy(fn, rtol=1e-9, atol=1e-12):
    """`refscript.jit(fn)` on the example arguments, compared with `fn` run by NumPy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NumPy's warnings for log(-x) and the like
        expected = fn(*copy.deepcopy(example_arguments()))
    compiled = refscript.jit(fn)
    assert_tree_close(compiled(*example_arguments()), expected, rtol=rtol, atol=atol)
    return compiled


def run_batch(names: list[str], examples: dict, tmp_path, **loop_options):
    """Runs every named example in one compiled function; if that fails, each alone, to name
    the examples that fail."""
    expressions = [examples[n] for n in names]
    try:
        initial = compiled_types(expressions, tmp_path, int(loop_options.pop("first", 0)))
        module = load(loop_function("batch", expressions, initial=initial, **loop_options), tmp_path)
        return run_against_numpy(module.batch)
    except Exception as batch_error:
        failures = []
        for name in names:
            single = load(loop_function("single", [examples[name]], **loop_options), tmp_path)
            try:
                run_against_numpy(single.single)
            except Exception as error:
                failures.append(f"{name}: {type(error).__name__}: {str(error)[:300]}")
        raise AssertionError("\n".join(failures) or f"only the batch fails: {batch_error!r}") from batch_error


# Drift: the tables and this module name the same things.


def test_every_row_has_a_status_and_names():
    assert ROWS, "no tables found in docs/numpy.md"
    for row in ROWS:
        assert row.status in STATUSES, row
        assert row.names, row
        assert (row.status == "unrolls") <= (row.table == WINDOW_TABLE), row
        assert (row.status == "supported") or row.difference, f"{row.names} documents no difference"


def test_every_documented_name_has_an_example_and_every_example_a_row():
    documented = {name for row in ROWS if row.table != WINDOW_TABLE for name in row.names}
    windowed = {name for row in ROWS if row.table == WINDOW_TABLE for name in row.names}
    assert sorted(documented - EXAMPLES.keys()) == []
    assert sorted(EXAMPLES.keys() - documented) == []
    assert sorted(windowed - WINDOW_EXAMPLES.keys()) == []
    assert sorted(WINDOW_EXAMPLES.keys() - windowed) == []
    names = [name for row in ROWS for name in row.names if row.table != WINDOW_TABLE]
    assert len(names) == len(set(names)), "a name appears in two rows"


def test_every_difference_has_a_check():
    with_difference = {name for row, name in rows_with("supported with a difference")}
    silent = {name for row, name in rows_with("unsupported") if "no error" in row.difference}
    checked = DIFFERENCE_CHECKS.keys() | set(X64_ROWS)
    assert sorted((with_difference | silent) - checked) == []
    assert sorted(checked - with_difference - silent) == []


def test_window_table_lists_every_masked_numpy_function():
    masked = {name for row, name in rows_with("supported", windowed=True) if re.fullmatch(r"np\.\w+", name)}
    assert masked == {f"np.{name}" for name in windows.FUNCTIONS}


# Supported rows run: by default the first part of one example per row, all in one compiled
# function; with `-m slow`, every part of every name's example, one compiled function per table.
# (Compiling is what costs: about 30 ms of XLA time per NumPy call on CPU.)

# Rows whose difference shows in every call, or that unroll the loop: their checks run them.
NOT_BATCHED = {"np.zeros(i)", "x.searchsorted", "u + 300", "a + b"}
# Names whose examples ask for a 64-bit type by name: in 32-bit mode (`pytest --x32`) JAX
# warns of each, the documented difference that test_rows_that_are_32_bit_without_x64 runs.
NAMING_A_64_BIT_TYPE = {"np.float64", "np.int64", "np.intp", "np.uint64", "np.complex128", "np.double"}


def batched_names(windowed: bool = False) -> list[tuple[Row, str]]:
    statuses = ("supported",) if windowed else ("supported", "supported with a difference")
    return [(row, name) for status in statuses for row, name in rows_with(status, windowed)
            if name not in NOT_BATCHED and (x64() or name not in NAMING_A_64_BIT_TYPE)]


def one_per_row(named: list[tuple[Row, str]], examples: dict) -> dict:
    """The first part of the example of the first name of each row."""
    chosen = {}
    for row, name in named:
        if all(row is not other for other, _ in chosen.values()):
            tree = ast.parse(examples[name], mode="eval").body
            chosen[name] = (row, ast.unparse(tree.elts[0]) if isinstance(tree, ast.Tuple) else examples[name])
    return {name: part for name, (row, part) in chosen.items()}


def test_one_example_of_every_supported_row_matches_numpy_in_a_compiled_loop(tmp_path):
    examples = one_per_row(batched_names(), EXAMPLES)
    compiled = run_batch(list(examples), examples, tmp_path)
    assert compiled.unrolled_loops == [], "the examples must run on traced, loop-carried values"


def test_one_example_of_every_window_row_stays_one_compiled_loop(tmp_path):
    examples = one_per_row(batched_names(windowed=True), WINDOW_EXAMPLES)
    compiled = run_batch(list(examples), examples, tmp_path, loop="range(1, 6)", carried=False, first=1)
    assert compiled.unrolled_loops == []
    assert len(compiled.masked_slices) >= len(examples)


TABLES = sorted({row.table for row, name in batched_names()})


@pytest.mark.slow
@pytest.mark.parametrize("table", TABLES)
def test_every_supported_name_matches_numpy_in_a_compiled_loop(table, tmp_path):
    names = [name for row, name in batched_names() if row.table == table]
    compiled = run_batch(names, EXAMPLES, tmp_path)
    assert compiled.unrolled_loops == [], "the examples must run on traced, loop-carried values"


@pytest.mark.slow
def test_every_window_name_stays_one_compiled_loop(tmp_path):
    names = [name for row, name in batched_names(windowed=True)]
    compiled = run_batch(names, WINDOW_EXAMPLES, tmp_path, loop="range(1, 6)", carried=False, first=1)
    assert compiled.unrolled_loops == []
    assert compiled.masked_slices


@pytest.mark.parametrize("name", [name for row, name in rows_with("unrolls", windowed=True)])
def test_window_rows_that_unroll_match_numpy(name, tmp_path):
    module = load(loop_function("single", [WINDOW_EXAMPLES[name]], loop="range(1, 6)", carried=False), tmp_path)
    compiled = run_against_numpy(module.single)
    assert compiled.unrolled_loops


# Unsupported rows raise the documented error, naming the function, at the example's line.

# The first name of each row by default; every name with `-m slow`.
UNSUPPORTED = [pytest.param(row, name, id=name, marks=() if name == row.names[0] else pytest.mark.slow)
               for row, name in rows_with("unsupported") if "no error" not in row.difference]


def documented_error(row: Row) -> type:
    named = re.findall(r"`(\w+Error)`", row.difference)
    if not named:
        return refscript.errors.UnsupportedNumpyError
    name = named[0]
    return getattr(refscript.errors, name, None) or getattr(jax.errors, name, None) or getattr(builtins, name)


@pytest.mark.parametrize("row, name", UNSUPPORTED)
def test_unsupported_rows_raise_the_documented_error_at_the_line(row, name, tmp_path):
    module = load(loop_function("single", [EXAMPLES[name]]), tmp_path)
    line = module.single.__code__.co_firstlineno + 2 + len(PARAMETERS.split(", "))
    with pytest.raises(documented_error(row)) as info:
        refscript.jit(module.single)(*example_arguments())
    error = info.value
    expected_name = ERROR_NAMES.get(name, name.replace("np.", "numpy.", 1))
    if isinstance(error, refscript.errors.RefscriptError):
        assert expected_name in error.message
        assert (error.location.filename, error.location.lineno) == (module.__file__, line)
    else:  # an error of JAX's: refscript's note names the line, or the traceback ends there
        assert expected_name in str(error.args[0] if error.args else error)
        tb = error.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        noted = f"refscript: {module.__file__}:{line}:" in "\n".join(getattr(error, "__notes__", []))
        assert noted or (tb.tb_frame.f_code.co_filename, tb.tb_lineno) == (module.__file__, line)


# Each documented difference, run.


def compiled_expression(tmp_path, expression: str, parameters=PARAMETERS):
    """`expression` computed in a compiled loop: the compiled function, and the plain one."""
    tree = ast.parse(expression, mode="eval").body
    count = len(tree.elts) if isinstance(tree, ast.Tuple) else 1
    targets = ", ".join(f"r{j}" for j in range(count))
    result = targets if isinstance(tree, ast.Tuple) else "r0"
    module = load(f"def f({parameters}):\n    for i in range(2):\n        {targets}{',' if count == 1 and result != 'r0' else ''} = "
                  f"{expression}\n    return {result}\n", tmp_path)
    return refscript.jit(module.f), module.f


def without_x64(tmp_path, expression: str, parameters=PARAMETERS, arguments=None):
    """`expression`'s compiled result with JAX's default 32-bit types, NumPy's result, and
    the warnings the compiled call gave."""
    compiled, plain = compiled_expression(tmp_path, expression, parameters)
    arguments = example_arguments() if arguments is None else arguments
    with jax.enable_x64(False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = compiled(*copy.deepcopy(arguments))
    return got, plain(*copy.deepcopy(arguments)), [str(w.message) for w in caught]


NARROWED = {np.dtype(np.float64): np.float32, np.dtype(np.int64): np.int32, np.dtype(np.uint64): np.uint32,
            np.dtype(np.complex128): np.complex64}


def check_empty_gives_zeros(name, tmp_path):
    compiled, _ = compiled_expression(tmp_path, "np.empty((2, 3)), np.empty_like(k)")
    empty, empty_like = compiled(*example_arguments())
    assert not np.asarray(empty).any() and not np.asarray(empty_like).any()


def check_shape_from_loop_index_unrolls(name, tmp_path):
    module = load(loop_function("single", [EXAMPLES[name]]), tmp_path)
    compiled = run_against_numpy(module.single)
    assert compiled.unrolled_loops


def check_function_argument_is_not_converted(name, tmp_path):
    expression = {
        "np.vectorize": "np.vectorize(lambda v: v if v > 0.5 else 0.0)(x)",
        "np.apply_along_axis": "np.apply_along_axis(lambda r: r.sum() if r[0] > 0 else 0.0, 1, m)",
    }[name]
    compiled, _ = compiled_expression(tmp_path, expression)
    with pytest.raises(jax.errors.TracerBoolConversionError):
        compiled(*example_arguments())


def check_argsort_is_stable(name, tmp_path):
    compiled, _ = compiled_expression(tmp_path, "np.argsort(k % 3), np.argsort(k % 2, kind='quicksort')")
    ties, quick = compiled(*example_arguments())
    _, _, _, k, _, _ = example_arguments()
    np.testing.assert_array_equal(ties, np.argsort(k % 3, kind="stable"))
    np.testing.assert_array_equal(quick, np.argsort(k % 2, kind="stable"))


def check_partition_orders_each_side_differently(name, tmp_path):
    expression = "x[np.argpartition(x, 3)]" if name == "np.argpartition" else "np.partition(x, 3)"
    compiled, plain = compiled_expression(tmp_path, expression, "x")
    x = narrowed(np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4]))
    got, expected = np.asarray(compiled(x)), plain(x.copy())
    assert got[3] == expected[3] and np.all(got[:3] <= got[3]) and np.all(got[4:] >= got[3])
    np.testing.assert_array_equal(np.sort(got), np.sort(x))
    assert not np.array_equal(got, expected)  # the same split, each side in another order


def check_out_of_bounds_take_fills(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, "np.take(x, k + 6), np.take(k, -7 - k)")
    floats, ints = compiled(*example_arguments())
    assert np.isnan(floats).all() and (np.asarray(ints) == np.iinfo(jax.dtypes.canonicalize_dtype(np.int64)).min).all()
    with pytest.raises(IndexError):
        plain(*example_arguments())


def check_mode_raise_cannot_compile(name, tmp_path):
    expression = {"np.choose": "np.choose(k % 2, [x, y])",
                  "np.ravel_multi_index": "np.ravel_multi_index((k % 2, k % 3), (2, 3))"}[name]
    compiled, _ = compiled_expression(tmp_path, expression)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        compiled(*example_arguments())


def check_counts_must_be_static(name, tmp_path):
    expression = {"np.repeat": "np.repeat(x, k)", "np.delete": "np.delete(x, k[:2])"}[name]
    compiled, _ = compiled_expression(tmp_path, expression)
    with pytest.raises(jax.errors.ConcretizationTypeError):
        compiled(*example_arguments())


def check_singular_matrices_give_nan_or_inf(name, tmp_path):
    expression = {"np.linalg.inv": "np.linalg.inv(m * 0.0)", "np.linalg.solve": "np.linalg.solve(m * 0.0, x[:4])",
                  "np.linalg.cholesky": "np.linalg.cholesky(-m @ m.T)"}[name]
    compiled, plain = compiled_expression(tmp_path, expression)
    assert not np.isfinite(np.asarray(compiled(*example_arguments()))).all()
    with pytest.raises(np.linalg.LinAlgError):
        plain(*example_arguments())


def check_eig_is_complex(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, f"{name}(m @ m.T){'' if name.endswith('eigvals') else '[0]'}")
    # complex128 and float64 (complex64 and float32 on 32-bit mode's float32 arguments)
    assert np.asarray(compiled(*example_arguments())).dtype == jax.dtypes.canonicalize_dtype(np.complex128)
    assert plain(*example_arguments()).dtype == jax.dtypes.canonicalize_dtype(np.float64)


def check_integer_division_by_zero(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, "k // (k * 0), u // (u * 0), k % (k * 0), u % (u * 0)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = plain(*example_arguments())
    got = [np.asarray(g) for g in compiled(*example_arguments())]
    assert all((e == 0).all() for e in expected)
    assert (got[0] < 0).all() and (got[1] == 255).all()  # not NumPy's 0
    assert (got[2] == 0).all() and (got[3] == 0).all()


def check_negative_integer_powers(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, "k ** (k - 3)")
    compiled(*example_arguments())  # no error: an unspecified value where the exponent is negative
    with pytest.raises(ValueError):
        plain(*example_arguments())
    static, plain_static = compiled_expression(tmp_path, "k ** -1")
    with pytest.raises(TypeError):
        static(*example_arguments())
    with pytest.raises(ValueError):
        plain_static(*example_arguments())


def check_python_int_out_of_range_wraps(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, "u + 300, u ^ 256, u & -1")
    added, xored, anded = compiled(*example_arguments())
    u = example_arguments()[4]
    np.testing.assert_array_equal(added, u + np.uint8(44))  # 300 wraps to 44
    np.testing.assert_array_equal(xored, u)  # 256 wraps to 0
    np.testing.assert_array_equal(anded, u)  # -1 wraps to 255
    with pytest.raises(OverflowError):
        plain(*example_arguments())


def check_int_float32_promotion(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, EXAMPLES[name])
    got, expected = compiled(*example_arguments()), plain(*example_arguments())
    assert [np.asarray(g).dtype for g in got] == [np.float32, np.float32]
    assert [e.dtype for e in expected] == [np.float64, np.float64]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def check_float_to_int_saturates(name, tmp_path):
    expression = "np.array([np.nan, np.inf, -np.inf, 1e30, -1.5]) + x[0] * 0"
    compiled, plain = compiled_expression(tmp_path, f"({expression}).astype(np.int32), ({expression}).astype(np.uint8)")
    to_int32, to_uint8 = (np.asarray(r) for r in compiled(*example_arguments()))
    info = np.iinfo(np.int32)
    np.testing.assert_array_equal(to_int32, [0, info.max, info.min, info.max, -1])
    np.testing.assert_array_equal(to_uint8, [0, 255, 0, 255, 0])


def check_method_keeps_small_integer_dtype(name, tmp_path):
    method = name[2:-2]
    compiled, plain = compiled_expression(tmp_path, f"u.{method}()")
    assert np.asarray(compiled(*example_arguments())).dtype == np.uint8
    assert plain(*example_arguments()).dtype == np.uint64


def check_searchsorted_method_gives_int32(name, tmp_path):
    compiled, plain = compiled_expression(tmp_path, EXAMPLES[name])
    got, expected = compiled(*example_arguments()), plain(*example_arguments())
    assert np.asarray(got).dtype == np.int32 and expected.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def check_none_index_on_written_array(name, tmp_path):
    module = load("def f(x):\n    a = x * 1.0\n    for i in range(2):\n        a[i] = 1.0\n"
                  "        r = a[:, None]\n    return r\n", tmp_path)
    with pytest.raises(refscript.errors.IndexingError):
        refscript.jit(module.f)(narrowed(np.arange(3.0)))


def check_integers_give_floats(name, tmp_path):
    expression = {"np.reciprocal": "np.reciprocal(k + 1)", "np.convolve": "np.convolve(k, k[:3])",
                  "np.correlate": "np.correlate(k, k[:3])"}[name]
    compiled, plain = compiled_expression(tmp_path, expression)
    got, expected = np.asarray(compiled(*example_arguments())), plain(*example_arguments())
    # On 32-bit mode's int32 `k`: float32 compiled, int32 in NumPy.
    assert got.dtype == jax.dtypes.canonicalize_dtype(np.float64)
    assert expected.dtype == jax.dtypes.canonicalize_dtype(np.int64)
    if name == "np.reciprocal":
        np.testing.assert_allclose(got, 1.0 / (example_arguments()[3] + 1))
        assert (expected[np.abs(example_arguments()[3]) > 0] == 0).all()  # 1 // x
    else:
        np.testing.assert_array_equal(got, expected)


# Rows whose difference is the 32-bit types without x64, run together.
X64_ROWS = ("np.zeros", "np.ones", "np.full", "np.arange", "np.linspace", "np.logspace", "np.geomspace",
            "np.eye", "np.identity", "np.tri", "np.array", "np.asarray", "np.float64", "np.int64", "np.intp",
            "np.uint64", "np.complex128", "np.double", "dtype=float", "dtype=int", "dtype=complex")

DIFFERENCE_CHECKS = {
    "np.empty": check_empty_gives_zeros, "np.empty_like": check_empty_gives_zeros,
    "np.zeros(i)": check_shape_from_loop_index_unrolls,
    "np.vectorize": check_function_argument_is_not_converted,
    "np.apply_along_axis": check_function_argument_is_not_converted,
    "np.argsort": check_argsort_is_stable,
    "np.partition": check_partition_orders_each_side_differently,
    "np.argpartition": check_partition_orders_each_side_differently,
    "np.take": check_out_of_bounds_take_fills,
    "np.choose": check_mode_raise_cannot_compile, "np.ravel_multi_index": check_mode_raise_cannot_compile,
    "np.repeat": check_counts_must_be_static, "np.delete": check_counts_must_be_static,
    "np.linalg.inv": check_singular_matrices_give_nan_or_inf,
    "np.linalg.solve": check_singular_matrices_give_nan_or_inf,
    "np.linalg.cholesky": check_singular_matrices_give_nan_or_inf,
    "np.linalg.eig": check_eig_is_complex, "np.linalg.eigvals": check_eig_is_complex,
    "a // b": check_integer_division_by_zero, "np.floor_divide": check_integer_division_by_zero,
    "a ** b": check_negative_integer_powers,
    "u + 300": check_python_int_out_of_range_wraps,
    "a + b": check_int_float32_promotion,
    "x.astype(int)": check_float_to_int_saturates,
    "x.cumsum()": check_method_keeps_small_integer_dtype, "x.cumprod()": check_method_keeps_small_integer_dtype,
    "x.searchsorted": check_searchsorted_method_gives_int32,
    "x[None]": check_none_index_on_written_array,
    "np.reciprocal": check_integers_give_floats, "np.convolve": check_integers_give_floats,
    "np.correlate": check_integers_give_floats,
}


# Checks that do not look at the name run once, for the first name they cover.
_ONCE = (check_empty_gives_zeros, check_integer_division_by_zero)
CHECKED_NAMES = [name for name in sorted(DIFFERENCE_CHECKS) if DIFFERENCE_CHECKS[name] not in _ONCE
                 or name == min(n for n, check in DIFFERENCE_CHECKS.items() if check is DIFFERENCE_CHECKS[name])]


@pytest.mark.parametrize("name", CHECKED_NAMES)
def test_documented_difference(name, tmp_path):
    DIFFERENCE_CHECKS[name](name, tmp_path)


def test_rows_that_are_32_bit_without_x64(tmp_path):
    """Without x64, what NumPy gives in 64 bits comes in 32, with the same values; naming a
    64-bit type gives JAX's warning."""
    expressions = [EXAMPLES[name] for name in X64_ROWS]
    with jax.enable_x64(False), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = load(loop_function("batch", expressions, initial=compiled_types(expressions, tmp_path, 0)), tmp_path)
        got = refscript.jit(module.batch)(*example_arguments())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = module.batch(*example_arguments())
    for g, e in zip(got, expected, strict=True):
        e = np.asarray(e)
        assert np.asarray(g).dtype == NARROWED.get(e.dtype, e.dtype), (g, e)
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-6)
    warned = " ".join(str(w.message) for w in caught if "is not available" in str(w.message))
    for dtype in ("float64", "int64", "uint64", "complex128"):
        assert f"dtype {dtype} requested" in warned


# The prose of the Dtypes section.


def test_without_x64_64_bit_arguments_become_32_bit(tmp_path):
    got, _, _ = without_x64(tmp_path, "x, k", "x, k", (np.array([0.5, 1.5]), np.array([2**40, 3])))
    assert np.asarray(got[0]).dtype == np.float32
    np.testing.assert_array_equal(got[1], np.array([0, 3], np.int32))  # 2**40 wraps silently


def test_python_numbers_promote_as_in_numpy_2(tmp_path):
    compiled, plain = compiled_expression(tmp_path, "u + 1, u ^ 0x0F, u * 1.5, x.astype(np.float32) + 1.0, u[0] + 1")
    assert_tree_close(compiled(*example_arguments()), plain(*example_arguments()))


PROMOTIONS = [  # left, right, JAX's result, NumPy's
    ("int16", "float16", "float16", "float32"), ("uint32", "float16", "float16", "float64"),
    ("int32", "complex64", "complex64", "complex128"), ("int64", "float32", "float32", "float64"),
    ("uint8", "float16", "float16", "float16"),
]


def test_array_promotion_where_jax_differs(tmp_path):
    # In 32-bit mode (`pytest --x32`) a 64-bit integer is not available (naming it gives
    # JAX's warning): the int32 it becomes promotes as it would.
    sums = ", ".join(f"k.astype(np.{jax.dtypes.canonicalize_dtype(left).name}) + x.astype(np.{right})"
                     for left, right, _, _ in PROMOTIONS)
    compiled, plain = compiled_expression(tmp_path, sums)
    got, expected = compiled(*example_arguments()), plain(*example_arguments())
    assert [np.asarray(g).dtype for g in got] == [jax_result for _, _, jax_result, _ in PROMOTIONS]
    assert [e.dtype for e in expected] == [numpy_result for _, _, _, numpy_result in PROMOTIONS]


INTEGERS_TO_FLOATS = [  # expression, compiled dtype, NumPy's dtype
    ("np.sqrt(u)", "float32", "float16"), ("u / 2", "float32", "float64"),
    ("np.mean(k.astype(np.int32))", "float32", "float64"), ("np.sqrt(k.astype(np.int16))", "float32", "float32"),
    ("np.sqrt(k)", "float64", "float64"), ("np.linalg.norm(k.astype(np.int32))", "float32", "float64"),
]


def test_integers_become_floats_as_jax_does(tmp_path):
    compiled, plain = compiled_expression(tmp_path, ", ".join(e for e, _, _ in INTEGERS_TO_FLOATS))
    got, expected = compiled(*example_arguments()), plain(*example_arguments())
    # `k` is int32 in 32-bit mode (`pytest --x32`): its floats are float32 there.
    assert [np.asarray(g).dtype for g in got] == [jax.dtypes.canonicalize_dtype(c) for _, c, _ in INTEGERS_TO_FLOATS]
    assert [np.asarray(e).dtype for e in expected] == [n for _, _, n in INTEGERS_TO_FLOATS]
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e, dtype=np.float64), rtol=1e-3)


def static_helpers(x):
    total = 0.0
    for index in np.ndindex(2, 3):  # NumPy's own iterator: a loop run as Python
        total += x[index[0] + index[1]]
    with np.errstate(divide="ignore"):
        ratio = x / 0.0
    return total, ratio


def test_numpy_helpers_of_static_values_run_as_numpy():
    check(static_helpers, np.array([0.5, 1.5, 2.5, 3.5]))
