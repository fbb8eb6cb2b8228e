"""refscript functions under JAX's distributed execution, on 8 simulated CPU devices.

Run by tests/test_distributed.py in a subprocess, because the device count must be
set (`XLA_FLAGS=--xla_force_host_platform_device_count=8`) before JAX is imported.
Every result is compared with the same undecorated function run as plain Python
on NumPy copies; each check prints one line `OK <function> <mode>` or
`FAIL <function> <mode>: <why>`, and the script exits with status 1 if any failed.

Modes:
- `jit-sharded`: `jax.jit` of the refscript function, its array argument placed
  with a `NamedSharding` over a mesh of the 8 devices (XLA partitions the loops);
- `shard_map`: `jax.shard_map` over the mesh, the function run on each device's
  block (the oracle runs it on each NumPy block); `shard_map-unchecked` the same
  with `check_vma=False` (JAX then does not check which values vary by device);
- `vmap-sharded`: `jax.jit(jax.vmap(f))` of a batch sharded over the mesh along
  the batch axis (the oracle loops over the batch);
- `grad-sharded`: `jax.grad` under `jax.jit` with a sharded argument, against
  central finite differences of the Python function.

Usage: `python tests/distributed_script.py` (prints the lines, then `DONE <n>`).
"""

from __future__ import annotations

import os
import sys
import traceback

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P  # noqa: E402

import refscript  # noqa: E402

jax.config.update("jax_enable_x64", True)

DEVICES = 8
BLOCK = 4  # elements per device in the sharded 1-D arguments
N = DEVICES * BLOCK


# The functions: each writes arrays in place, or has a loop or branch refscript
# must compile (not unroll, not run as Python).


def recurrence(x):
    """a[i] = 0.5 a[i-1] + x[i], written into a copy in place."""
    out = x.copy()
    for i in range(1, x.shape[0]):
        out[i] = out[i - 1] * 0.5 + x[i]
    return out


def triangular(x):
    """A triangular double loop: out[i] = sum over j >= i of x[j] * (j - i + 1)."""
    n = x.shape[0]
    out = np.zeros_like(x)
    for i in range(n):
        for j in range(i, n):
            out[i] += x[j] * (j - i + 1)
    return out


def halvings(x):
    """How many halvings bring |x[0]| + 1 below 2: a while loop whose trip count is data."""
    v = abs(x[0]) * 1000.0 + 1.0
    count = 0
    while v >= 2.0:
        v = v / 2.0
        count += 1
    return count * 1.0 + v + x.sum()


def accumulate(x):
    """The plainest reduction: an accumulator that starts as a Python float."""
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


def clipped_sum(x):
    """A traced `if` in a loop, with an in-place write in one branch."""
    out = x.copy()
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > 0.0:
            s += x[i]
            out[i] = s
        else:
            s = s * 0.5
    return out * s


FUNCTIONS = [recurrence, triangular, halvings, accumulate, clipped_sum]
# Gradients of the three with different loop forms (halvings: a while loop, no reverse mode).
DIFFERENTIABLE = [recurrence, triangular, clipped_sum]


# The checks.

failures: list[str] = []
checks = 0


def report(name: str, mode: str, check) -> None:
    global checks
    checks += 1
    try:
        check()
    except Exception:  # a failure of any kind is reported, and the other checks still run
        why = traceback.format_exc(limit=3).strip().replace("\n", " | ")
        failures.append(f"{name} {mode}")
        print(f"FAIL {name} {mode}: {why}", flush=True)
    else:
        print(f"OK {name} {mode}", flush=True)


def python(fn, x):
    """The oracle: `fn` run as plain Python on a NumPy copy."""
    return np.asarray(fn(np.array(x)), dtype=np.float64)


def assert_close(got, expected):
    got = np.asarray(got)
    assert got.dtype == np.float64, got.dtype
    assert got.shape == expected.shape, (got.shape, expected.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def numerical_grad(fn, x, eps=1e-6):
    grad = np.zeros_like(x)
    for i in range(x.shape[0]):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (np.sum(python(fn, x + step)) - np.sum(python(fn, x - step))) / (2 * eps)
    return grad


def main() -> int:
    devices = jax.devices()
    assert len(devices) == DEVICES, f"expected {DEVICES} devices, got {len(devices)}"
    mesh = jax.make_mesh((DEVICES,), ("d",), axis_types=(AxisType.Auto,))
    sharded = NamedSharding(mesh, P("d"))
    rng = np.random.default_rng(0)
    x = rng.normal(size=N)
    batch = rng.normal(size=(2 * DEVICES, BLOCK + 1))

    for fn in FUNCTIONS:
        compiled = refscript.jit(fn)
        name = fn.__name__

        def jit_sharded(fn=fn, compiled=compiled):
            arg = jax.device_put(x, sharded)
            assert arg.sharding == sharded and len(arg.addressable_shards) == DEVICES
            got = jax.jit(compiled, in_shardings=sharded)(arg)
            assert_close(got, python(fn, x))

        def shard_mapped(fn=fn, compiled=compiled, check_vma=True):
            def per_block(block):
                return jnp.reshape(compiled(block), (-1,))  # a scalar result becomes one entry per block

            mapped = jax.jit(jax.shard_map(per_block, mesh=mesh, in_specs=P("d"), out_specs=P("d"),
                                           check_vma=check_vma))
            got = mapped(jax.device_put(x, sharded))
            assert got.sharding.spec == P("d"), got.sharding
            expected = np.concatenate([np.reshape(python(fn, block), (-1,)) for block in np.split(x, DEVICES)])
            assert_close(got, expected)

        def vmap_sharded(fn=fn, compiled=compiled):
            arg = jax.device_put(batch, NamedSharding(mesh, P("d", None)))
            got = jax.jit(jax.vmap(compiled))(arg)
            assert_close(got, np.stack([python(fn, row) for row in batch]))

        report(name, "jit-sharded", jit_sharded)
        report(name, "shard_map", shard_mapped)
        report(name, "shard_map-unchecked", lambda: shard_mapped(check_vma=False))
        report(name, "vmap-sharded", vmap_sharded)
        if fn in DIFFERENTIABLE:

            def grad_sharded(fn=fn, compiled=compiled):
                small = x[: 2 * DEVICES]
                arg = jax.device_put(small, sharded)
                got = jax.jit(jax.grad(lambda v: jnp.sum(compiled(v))))(arg)
                np.testing.assert_allclose(np.asarray(got), numerical_grad(fn, small), rtol=1e-6, atol=1e-8)

            report(name, "grad-sharded", grad_sharded)

    print(f"DONE {checks}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
