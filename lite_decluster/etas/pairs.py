"""Candidate parent-child pairs, pruned with an exact bound on every neglected term.

The triggered intensity at child j is ``sum_i v_ij``, ``v_ij = kappa(m_i) g(t_j - t_i)
f(r_ij | m_i)`` over earlier events i. A pair is kept if and only if ``v_ij >= eps_j``, at the
parameters the pairs are built for; the caller sets the thresholds (``decluster_etas`` uses
``eps_j = tol * lambda_lo_j``, a lower bound of the intensity at the child). So every neglected
term is below ``eps_j``, and the neglected intensity at j below ``eps_j * n_j`` with n_j the
number of earlier events (in practice far less: the terms fall off as power laws;
``bench/etas_pruning.py`` and ``docs/etas.md`` measure it against exact sums).

Search (never N x N; memory O(N + candidates)): events in time order; pairs less than
``_WINDOW`` positions apart are evaluated directly. Farther pairs are found by divide and
conquer in position: at level s the events form groups of 2s positions, and the children of a
group's second half look for parents in its first half, so each pair is seen at exactly one
level. Per level and parent magnitude class (width ``_MAG_BIN``), with ``m_hi`` the class's
largest magnitude, every parent i of the first half has ``t_j - t_i >= lag_j`` (the lag to the
end of the half), so ``v_ij <= kappa(m_hi) g(lag_j) max_{D in class} f(r | D)``; the largest r
where that bound reaches ``eps_j`` (``kernels.spatial_radius_bound``) is the child's search
radius in a cKDTree of the class's parents (groups shifted apart along the first axis so one
tree serves all groups). Candidates are then kept by their exact ``v_ij``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from lite_decluster.etas.geometry import EventGeometry
from lite_decluster.etas.kernels import omori_log_norm, spatial_radius_bound

__all__ = ["Pairs", "build_pairs", "log_pair_value"]

_WINDOW = 32
_MAG_BIN = 0.5
_QUERY_CHUNK = 2048  # children per ball query: bounds the candidate lists (Python ints)
_SLACK = 1.0 + 1e-9


@dataclass
class Pairs:
    """Kept pairs: parent ``i`` and child ``j`` (int32 positions), ``dt`` (days, > 0) and
    ``r2`` (km^2), each of shape (n_pairs,), sorted by child then parent."""

    i: np.ndarray
    j: np.ndarray
    dt: np.ndarray
    r2: np.ndarray

    def __len__(self) -> int:
        return int(self.i.size)


def log_pair_value(
    dt: np.ndarray, r2: np.ndarray, m_par: np.ndarray, prm: dict[str, float], mc: float
) -> np.ndarray:
    """``log(kappa(m_i) g(dt) f(r | m_i))`` for arrays of delays (days), r^2 (km^2) and
    parent magnitudes (all shape (n,)); ``prm`` holds the model parameters."""
    tau = prm["tau"]
    log_z = omori_log_norm(prm["c"], prm["p"], tau)[0]
    dm = m_par - mc
    log_d2 = 2.0 * math.log(prm["d"]) + prm["gamma"] * dm
    q = prm["q"]
    out = math.log(prm["A"]) + prm["alpha"] * dm
    out = out - prm["p"] * np.log1p(dt / prm["c"]) - log_z
    if math.isfinite(tau):
        out = out - dt / tau
    out += math.log((q - 1.0) / math.pi) - log_d2 - q * np.log1p(r2 * np.exp(-log_d2))
    return out


def _log_g_upper(lag: np.ndarray, prm: dict[str, float]) -> np.ndarray:
    """log g(lag), an upper bound of log g(t) for every t >= lag (g decreases)."""
    tau = prm["tau"]
    out = -prm["p"] * np.log1p(lag / prm["c"]) - omori_log_norm(prm["c"], prm["p"], tau)[0]
    return out - lag / tau if math.isfinite(tau) else out


def build_pairs(
    t: np.ndarray,
    m: np.ndarray,
    geom: EventGeometry,
    child: np.ndarray,
    log_eps: np.ndarray,
    prm: dict[str, float],
    mc: float,
) -> Pairs:
    """All pairs (i < j by time, t_i < t_j, j a child) with ``log v_ij >= log_eps[j]``.

    Parameters
    ----------
    t, m : ndarray of shape (n,)
        Times (days, sorted) and magnitudes.
    geom : EventGeometry
    child : bool ndarray of shape (n,)
        Events whose intensity is needed (the target events).
    log_eps : ndarray of shape (n,)
        Log threshold per event (only used at children).
    prm : dict
        Model parameters (see ``kernels.PARAM_NAMES``); mc the reference magnitude.
    """
    n = t.size
    out_i, out_j, out_dt, out_r2 = [], [], [], []

    def keep(i: np.ndarray, j: np.ndarray, min_gap: int = 0) -> None:
        ok = (t[i] < t[j]) & child[j] & (j - i >= min_gap)
        i, j = i[ok], j[ok]
        if i.size == 0:
            return
        dt, r2 = t[j] - t[i], geom.dist2(i, j)
        ok = log_pair_value(dt, r2, m[i], prm, mc) >= log_eps[j]
        out_i.append(i[ok].astype(np.int32))
        out_j.append(j[ok].astype(np.int32))
        out_dt.append(dt[ok])
        out_r2.append(r2[ok])

    for lag in range(1, min(_WINDOW, n)):
        j = np.arange(lag, n)
        keep(j - lag, j)

    mcls = np.floor((m - m.min()) / _MAG_BIN).astype(np.int64)
    classes = np.unique(mcls)
    pos = np.arange(n)
    extent = float(np.ptp(geom.points, axis=0).max()) + 1.0
    q, dm = prm["q"], m - mc
    log_k = math.log(prm["A"]) + prm["alpha"] * dm
    log_d2 = 2.0 * math.log(prm["d"]) + prm["gamma"] * dm
    s = _WINDOW
    while s < n:
        half = (pos // s) % 2
        group = pos // (2 * s)
        end_first = np.minimum(group * 2 * s + s - 1, n - 1)  # last position of first half
        kids = pos[(half == 1) & child]
        if kids.size:
            for k in classes:
                par = pos[(half == 0) & (mcls == k)]
                if par.size == 0:
                    continue
                # Latest class-k parent in the child's first half: its lag bounds them all.
                last = np.searchsorted(par, end_first[kids], side="right") - 1
                ok = last >= 0
                ok[ok] = group[par[last[ok]]] == group[kids[ok]]
                ch, last = kids[ok], last[ok]
                if ch.size == 0:
                    continue
                lag = np.maximum(t[ch] - t[par[last]], 0.0)
                lk_hi = float(log_k[par].max())
                d2_lo, d2_hi = float(np.exp(log_d2[par].min())), float(np.exp(log_d2[par].max()))
                with np.errstate(over="ignore"):  # inf: no parent of the class can qualify
                    value = np.exp(log_eps[ch] - lk_hi - _log_g_upper(lag, prm))
                r2 = spatial_radius_bound(value, d2_lo, d2_hi, q)
                ok = r2 > 0
                ch, r2 = ch[ok], r2[ok]
                if ch.size == 0:
                    continue
                # Capped at the largest distance between two events (every pair qualifies).
                radius = np.minimum(geom.chord_for(np.sqrt(r2) * _SLACK) * _SLACK + 1e-9,
                                    2.0 * extent)
                sep = 4.0 * (2.0 * extent + 1.0)  # groups farther apart than any radius
                _tree_pairs(geom, par, ch, group, sep, radius, keep)
        s *= 2
    if not out_i:
        return Pairs(*(np.zeros(0, dtype=np.int32),) * 2, *(np.zeros(0),) * 2)
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    o = np.lexsort((i, j))
    dt, r2 = (np.concatenate(a)[o] for a in (out_dt, out_r2))
    return Pairs(i[o], j[o], dt, r2)


def _tree_pairs(geom, par, ch, group, sep, radius, keep) -> None:
    pp = geom.points[par].copy()
    pp[:, 0] += group[par] * sep
    tree = cKDTree(pp, leafsize=32, balanced_tree=False)
    scale = float(np.abs(pp).max())
    for lo in range(0, ch.size, _QUERY_CHUNK):
        c = ch[lo : lo + _QUERY_CHUNK]
        cp = geom.points[c].copy()
        cp[:, 0] += group[c] * sep
        r = radius[lo : lo + _QUERY_CHUNK] + 8.0 * np.finfo(float).eps * scale
        hits = tree.query_ball_point(cp, r, return_sorted=False)
        lengths = np.fromiter(map(len, hits), dtype=np.int64, count=hits.size)
        if lengths.sum() == 0:
            continue
        flat = np.fromiter(itertools.chain.from_iterable(hits), dtype=np.int64,
                           count=int(lengths.sum()))
        keep(par[flat], np.repeat(c, lengths), _WINDOW)  # closer pairs: the window
