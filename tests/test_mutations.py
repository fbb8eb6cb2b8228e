"""tests/mutations.py stays usable: every scripted mutation still applies to today's source.

(Running the mutations takes minutes: `python tests/mutations.py`; docs/testing.md records
which tests catch each one.)"""

import pytest

import mutations


@pytest.mark.parametrize("mutation", mutations.MUTATIONS, ids=lambda m: m.name)
def test_mutation_applies_to_the_source(mutation):
    text = (mutations.ROOT / mutation.path).read_text()
    assert text.count(mutation.old) == 1, f"{mutation.name}: update the mutation to today's {mutation.path}"
    assert mutation.old != mutation.new
    for test in mutation.tests:
        assert (mutations.ROOT / test).is_file(), test
