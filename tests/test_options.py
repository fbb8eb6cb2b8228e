"""Options of `refscript.jit` that choose how a function is lowered."""

import numpy as np
import pytest

import refscript
import oracle
from oracle import LOWERINGS, check, run_lowering
from refscript.errors import ArgumentError


def index_after_break(x):
    for i in range(x.shape[0]):
        if x[i] > 1.0:
            break
    return i


def test_disabling_the_forward_only_lowering_runs_the_differentiable_one():
    x = oracle.narrowed(np.array([0.0, 5.0, 0.0, 0.0, 0.0]))
    fast = refscript.jit(index_after_break)
    differentiable = refscript.jit(index_after_break, disable=("forward_only",))
    assert int(fast(x)) == int(differentiable(x)) == 1
    assert fast.lowerings == 2 and fast.forward_only_choices  # the loop stops at its break
    assert differentiable.lowerings == 1 and differentiable.forward_only_choices == []
    assert differentiable.options["disable"] == ("forward_only",)


def test_the_oracle_runs_every_lowering_and_names_the_one_that_differs(monkeypatch):
    x = np.array([0.0, 5.0, 0.0, 0.0, 0.0])
    assert check(index_after_break, x) == 1
    assert [run_lowering(lowering, index_after_break, (x,))[0] for lowering in LOWERINGS] == [1, 1, 1]
    # A lowering that loses the loop index at the break (the mutation the oracle was blind to)
    # must be caught, and named.
    original = refscript.api.JitFunction._run_pure

    def checked_loses_the_break(self, static, dynamic, checks):
        out, updates = original(self, static, dynamic, checks)
        return (out + 3 if checks else out), updates

    monkeypatch.setattr(refscript.api.JitFunction, "_run_pure", checked_loses_the_break)
    monkeypatch.setattr(oracle, "_cache", type(oracle._cache)())  # compile again, mutated
    with pytest.raises(AssertionError, match="the checked lowering differs from Python"):
        check(index_after_break, x)


def test_an_unknown_strategy_is_an_argument_error():
    with pytest.raises(ArgumentError, match="(?s)names no strategy 'coalesce'.*forward_only"):
        refscript.jit(index_after_break, disable=("coalesce",))
