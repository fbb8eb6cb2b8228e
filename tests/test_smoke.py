
from oracle import check, check_grad, check_vmap


def recurrence(a, b):
    a = a.copy()
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i]
    return a


def test_recurrence_matches_python(rng):
    check(recurrence, rng.normal(size=7), rng.normal(size=7))


def recurrence_total(b, a):
    a = a.copy()
    for i in range(1, a.shape[0]):
        a[i] = a[i - 1] * 0.5 + b[i]
    return a.sum()


def test_recurrence_grad(rng):
    check_grad(recurrence_total, rng.normal(size=5), rng.normal(size=5))


def test_recurrence_vmap(rng):
    check_vmap(recurrence, rng.normal(size=(3, 6)), rng.normal(size=6))
