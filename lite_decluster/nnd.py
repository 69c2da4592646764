"""The classic nearest-neighbour-distance (NND) threshold of Zaliapin & Ben-Zion (2013).

The distribution of log10 eta is bimodal: a clustered mode (small eta, triggered events) and
a background mode (large eta). An event is an aftershock when its log10 eta lies below the
minimum of the density between the two modes.

Method: histogram of log10 eta in bins of 0.05, smoothed with a Gaussian kernel of 0.25 log
units (enough to remove sampling noise, far narrower than the ~2 units between the modes);
the two highest local maxima at least 1 log unit apart are the modes; the threshold is the
lowest point of the smoothed density between them.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["nnd_threshold"]

_BIN = 0.05
_SMOOTH = 0.25
_MIN_SEPARATION = 1.0


def nnd_threshold(log10_eta: np.ndarray) -> float:
    """Threshold on log10 eta at the density minimum between its two modes.

    Parameters
    ----------
    log10_eta : array of shape (n,)
        log10 of the nearest-neighbour distances; non-finite values (events without a
        parent) are ignored.

    Returns
    -------
    float
        Events with ``log10_eta < threshold`` are clustered (aftershocks).

    Raises
    ------
    ValueError
        When fewer than 10 finite values are given or the density has no second mode.
    """
    x = np.asarray(log10_eta, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 10:
        raise ValueError(f"NND threshold needs at least 10 finite log10 eta values, got {x.size}")
    lo, hi = float(x.min()) - 1.0, float(x.max()) + 1.0
    edges = np.arange(lo, hi + _BIN, _BIN)
    counts, _ = np.histogram(x, bins=edges)
    dens = gaussian_filter1d(counts.astype(float), _SMOOTH / _BIN, mode="constant")
    centres = 0.5 * (edges[1:] + edges[:-1])

    inner = dens[1:-1]
    peaks = np.flatnonzero((inner > dens[:-2]) & (inner >= dens[2:])) + 1
    if peaks.size < 2:
        raise ValueError("log10 eta has a single mode: no NND threshold")
    order = peaks[np.argsort(dens[peaks])[::-1]]
    first = order[0]
    far = order[np.abs(centres[order] - centres[first]) >= _MIN_SEPARATION]
    if far.size == 0:
        raise ValueError("log10 eta has no second mode 1 log unit away: no NND threshold")
    a, b = sorted((int(first), int(far[0])))
    k = a + int(np.argmin(dens[a : b + 1]))
    return float(centres[k])
