"""Clusters from parent links: compared with a plain walk up the links written here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lite_decluster.clusters import ROLES, cluster_roles, cluster_roots


def _walk(member, joins, parent):
    """Root of each member by following links one at a time."""
    n = len(member)
    out = []
    for i in range(n):
        if not member[i]:
            out.append(-1)
            continue
        j = i
        while joins[j] and 0 <= parent[j] < n and member[parent[j]]:
            j = parent[j]
        out.append(j)
    return np.array(out)


def _roles(root, mag):
    n = len(root)
    size = np.zeros(n, int)
    main = np.full(n, -1)
    role = [""] * n
    for r in set(root.tolist()) - {-1}:
        idx = [i for i in range(n) if root[i] == r]
        best = idx[0]
        for i in idx:  # largest magnitude, earliest (lowest index) on ties
            if mag[i] > mag[best]:
                best = i
        for i in idx:
            size[i] = len(idx)
            main[i] = best
            if len(idx) == 1:
                role[i] = "single"
            elif i == best:
                role[i] = "mainshock"
            else:
                role[i] = "foreshock" if i < best else "aftershock"
    return size, main, role


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_roots_and_roles_match_a_walk(data):
    n = data.draw(st.integers(0, 40))
    # Parents are earlier events (time order), as every method gives them.
    parent = np.array([data.draw(st.integers(-1, i - 1)) if i else -1 for i in range(n)],
                      dtype=int)
    member = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    joins = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    mag = np.array(data.draw(st.lists(st.sampled_from([2.0, 2.5, 3.0, 4.0]), min_size=n,
                                      max_size=n)))
    root = cluster_roots(member, joins, parent)
    np.testing.assert_array_equal(root, _walk(member, joins, parent))
    size, main, role = cluster_roles(root, mag)
    want_size, want_main, want_role = _roles(root, mag)
    np.testing.assert_array_equal(size, want_size)
    np.testing.assert_array_equal(main, want_main)
    assert [ROLES[k] for k in role] == want_role


def test_landers_like_chain():
    # A small background event, a foreshock, a large triggered event and its aftershocks: the
    # large one is the mainshock although it is labelled triggered.
    member = np.ones(5, bool)
    joins = np.array([False, True, True, True, True])
    parent = np.array([-1, 0, 1, 2, 2])
    mag = np.array([2.7, 3.6, 7.3, 4.0, 3.0])
    root = cluster_roots(member, joins, parent)
    assert root.tolist() == [0] * 5
    size, main, role = cluster_roles(root, mag)
    assert [ROLES[k] for k in role] == ["foreshock", "foreshock", "mainshock", "aftershock",
                                        "aftershock"]
    assert size.tolist() == [5] * 5 and main.tolist() == [2] * 5


def test_cycle_is_refused():
    with pytest.raises(ValueError, match="cycle"):
        cluster_roots(np.ones(2, bool), np.ones(2, bool), np.array([1, 0]))
