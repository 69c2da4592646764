"""Magnitude of completeness and Gutenberg-Richter b-value.

Methods
-------
Mc, maximum curvature (Wiemer & Wyss 2000): the magnitude bin holding the most events in the
non-cumulative frequency-magnitude distribution, plus a correction (0.2 by default, Woessner &
Wiemer 2005), because maximum curvature underestimates Mc for gradually curved distributions.

b-value, Aki (1965) maximum likelihood with Utsu's binning correction:
``b = log10(e) / (mean(m) - (Mc - dm/2))`` over events with ``m >= Mc``, where ``dm`` is the
magnitude bin width (0 for continuous magnitudes). Its uncertainty is Shi & Bolt (1982):
``sigma_b = 2.3 b^2 sqrt(sum((m - mean)^2) / (n (n - 1)))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BValue", "estimate_bin_width", "estimate_b", "estimate_mc"]

# Magnitudes are rounded to 0.01 before binning so that float noise (2.2999999) does not split bins.
_ROUND = 1e-6


@dataclass(frozen=True)
class BValue:
    """A b-value estimate: value, Shi & Bolt standard error, events used, Mc and bin width."""

    b: float
    sigma: float
    n: int
    mc: float
    bin_width: float


def estimate_bin_width(magnitudes: np.ndarray) -> float:
    """Magnitude bin width of a catalog (0.1 for the usual one-decimal magnitudes).

    The smallest positive difference between distinct magnitudes, rounded to 0.01 and capped at
    0.1 because reported magnitudes are not binned coarser than that in practice; 0 when the
    magnitudes look continuous (synthetic catalogs).
    """
    m = np.unique(np.round(np.asarray(magnitudes, dtype=float), 6))
    if m.size < 2:
        return 0.1
    step = float(np.min(np.diff(m)))
    if step < 0.005:  # finer than 0.01: continuous magnitudes
        return 0.0
    return float(min(round(step, 2), 0.1))


def estimate_mc(
    magnitudes: np.ndarray, *, correction: float = 0.2, bin_width: float | None = None
) -> float:
    """Magnitude of completeness by maximum curvature plus ``correction`` (magnitude units).

    Parameters
    ----------
    magnitudes : array of shape (n,)
        Event magnitudes.
    correction : float
        Added to the maximum-curvature magnitude (0.2 is the usual default).
    bin_width : float, optional
        Histogram bin width; 0.1 when not given or when the magnitudes are continuous.
    """
    m = np.asarray(magnitudes, dtype=float)
    m = m[np.isfinite(m)]
    if m.size == 0:
        raise ValueError("cannot estimate Mc: no finite magnitudes")
    dm = bin_width if bin_width else estimate_bin_width(m)
    dm = dm if dm > 0 else 0.1
    idx = np.floor(m / dm + 0.5 + _ROUND).astype(np.int64)
    lo = idx.min()
    counts = np.bincount(idx - lo)
    mode = int(np.argmax(counts))  # first (smallest) bin among equal maxima
    return round(float((mode + lo) * dm + correction), 6)


def estimate_b(
    magnitudes: np.ndarray, mc: float | None = None, *, bin_width: float | None = None
) -> BValue:
    """Aki-Utsu maximum-likelihood b-value of events with ``m >= mc``.

    Parameters
    ----------
    magnitudes : array of shape (n,)
        Event magnitudes.
    mc : float, optional
        Magnitude of completeness; the smallest magnitude when not given (catalog already cut).
    bin_width : float, optional
        Magnitude bin width for Utsu's correction; estimated from the data when not given
        (0 for continuous magnitudes).
    """
    m = np.asarray(magnitudes, dtype=float)
    m = m[np.isfinite(m)]
    if m.size == 0:
        raise ValueError("cannot estimate b: no finite magnitudes")
    if mc is None:
        mc = float(m.min())
    m = m[m >= mc - _ROUND]
    if m.size < 2:
        raise ValueError(f"cannot estimate b: {m.size} event(s) with magnitude >= Mc {mc:g}")
    dm = estimate_bin_width(m) if bin_width is None else float(bin_width)
    mean = float(m.mean())
    denom = mean - (mc - dm / 2.0)
    if denom <= 0:
        raise ValueError("cannot estimate b: all magnitudes equal Mc")
    b = float(np.log10(np.e) / denom)
    sigma = float(2.3 * b * b * np.sqrt(np.sum((m - mean) ** 2) / (m.size * (m.size - 1))))
    return BValue(b=b, sigma=sigma, n=int(m.size), mc=float(mc), bin_width=dm)
