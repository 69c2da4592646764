"""ETAS kernels: productivity, (tapered) Omori-Utsu time kernel, power-law spatial kernel.

The same family and parametrisation as the project's simulator (units: days, km, magnitude
units)::

    kappa(m)  = A exp(alpha (m - Mc))                                   (expected offspring)
    g(t)      = (1 + t / c)^(-p) exp(-t / tau) / Z                      (1 / day, t >= 0)
    Z         = c (c / tau)^(p - 1) exp(c / tau) Gamma(1 - p, c / tau)  (days)
    g(t)      = (p - 1) / c (1 + t / c)^(-p)                            (untapered, tau = inf)
    f(r | m)  = (q - 1) / (pi D^2) (1 + r^2 / D^2)^(-q),  D^2 = d^2 exp(gamma (m - Mc))  (1/km^2)

The tapered CDF is ``G(t) = 1 - Gamma(1 - p, (c + t) / tau) / Gamma(1 - p, c / tau)`` and the
radial CDF of the spatial kernel ``F(R) = 1 - (1 + R^2 / D^2)^(1 - q)``.

``Gamma(s, x)`` is the upper incomplete gamma function; for ``s <= 0`` (p >= 1) it comes from
``Gamma(s + 1, x) = s Gamma(s, x) + x^s e^-x``, applied until ``s + 1 > 0`` where scipy's
``gamma * gammaincc`` holds. Its derivative in ``x`` is analytic (``-x^(s-1) e^-x``); the
derivative in ``s`` (needed for d/dp of the tapered kernel) is a central difference with step
``_DS`` (relative error about 1e-9). Every other derivative is analytic.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = [
    "PARAM_NAMES",
    "omori_cdf",
    "omori_log_norm",
    "spatial_cdf",
    "spatial_cdf_grad",
    "spatial_radius_bound",
    "upper_gamma",
]

#: Parameters of the model, in the order used by the fit's parameter vectors.
PARAM_NAMES = ("mu", "A", "alpha", "c", "p", "tau", "d", "q", "gamma")

_DS = 1e-6  # step of the central difference in the first argument of Gamma(s, x)


def upper_gamma(s: float, x: np.ndarray | float) -> np.ndarray:
    """Upper incomplete gamma ``Gamma(s, x) = int_x^inf u^(s-1) e^-u du`` for x > 0, any s.

    Parameters
    ----------
    s : float
        First argument (any real; s <= 0 uses the recurrence, see the module docstring).
    x : array_like
        Lower limits, > 0.

    Returns
    -------
    ndarray, same shape as ``x``.
    """
    x = np.asarray(x, dtype=float)
    if s > 0:
        return special.gamma(s) * special.gammaincc(s, x)
    # Gamma(s, x) = (Gamma(s + 1, x) - x^s e^-x) / s, recursively until s + 1 > 0.
    return (upper_gamma(s + 1.0, x) - np.exp(s * np.log(x) - x)) / s


def omori_log_norm(c: float, p: float, tau: float) -> tuple[float, float, float, float]:
    """``log Z`` of the tapered kernel and its derivatives in (c, p, tau).

    Returns
    -------
    (logZ, dlogZ/dc, dlogZ/dp, dlogZ/dtau); for ``tau = inf`` the untapered normaliser
    ``Z = c / (p - 1)``.
    """
    if not math.isfinite(tau):
        return math.log(c / (p - 1.0)), 1.0 / c, -1.0 / (p - 1.0), 0.0
    s, x0 = 1.0 - p, c / tau
    gam = float(upper_gamma(s, x0))
    log_z = p * math.log(c) + (1.0 - p) * math.log(tau) + x0 + math.log(gam)
    dgam_dx = -math.exp((s - 1.0) * math.log(x0) - x0)
    dgam_ds = float(upper_gamma(s + _DS, x0) - upper_gamma(s - _DS, x0)) / (2 * _DS)
    d_c = p / c + 1.0 / tau + dgam_dx / gam / tau
    d_p = math.log(c) - math.log(tau) - dgam_ds / gam
    d_tau = (1.0 - p) / tau - c / tau**2 - dgam_dx / gam * c / tau**2
    return log_z, d_c, d_p, d_tau


def omori_cdf(
    t: np.ndarray, c: float, p: float, tau: float, *, grad: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CDF ``G(t)`` of the time kernel (t in days, >= 0) and optionally dG/dc, dG/dp, dG/dtau.

    Parameters
    ----------
    t : ndarray of shape (n,)
        Delays (days), >= 0 (``inf`` allowed: G = 1).
    c, p, tau : float
        Kernel parameters; ``tau = inf`` for the untapered kernel.
    grad : bool
        Also return the three derivatives, each of shape (n,).
    """
    t = np.asarray(t, dtype=float)
    if not math.isfinite(tau):
        lg = np.log1p(t / c)
        surv = np.exp((1.0 - p) * lg)  # (1 + t/c)^(1-p)
        if not grad:
            return 1.0 - surv
        d_c = surv * (1.0 - p) * (-t / (c * (c + t)))
        d_p = surv * lg
        return 1.0 - surv, -d_c, d_p, np.zeros_like(t)
    s, x0 = 1.0 - p, c / tau
    x1 = (c + t) / tau
    g0 = float(upper_gamma(s, x0))
    with np.errstate(over="ignore", invalid="ignore"):
        g1 = np.where(np.isfinite(x1), upper_gamma(s, np.minimum(x1, 1e300)), 0.0)
    ratio = g1 / g0
    if not grad:
        return 1.0 - ratio
    # d Gamma(s, x)/dx = -x^(s-1) e^-x
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        dx1 = np.where(np.isfinite(x1), -np.exp((s - 1.0) * np.log(x1) - x1), 0.0)
    dx0 = -math.exp((s - 1.0) * math.log(x0) - x0)
    # ratio = g1/g0; d ratio = (dg1 g0 - g1 dg0) / g0^2
    d_c = (dx1 / tau - ratio * dx0 / tau) / g0
    d_tau = (dx1 * (-x1 / tau) - ratio * dx0 * (-x0 / tau)) / g0
    g1p = np.where(np.isfinite(x1), upper_gamma(s + _DS, np.minimum(x1, 1e300)), 0.0)
    g1m = np.where(np.isfinite(x1), upper_gamma(s - _DS, np.minimum(x1, 1e300)), 0.0)
    dg1_ds = (g1p - g1m) / (2 * _DS)
    dg0_ds = float(upper_gamma(s + _DS, x0) - upper_gamma(s - _DS, x0)) / (2 * _DS)
    d_s = (dg1_ds - ratio * dg0_ds) / g0
    # G = 1 - ratio; s = 1 - p so d/dp = -d/ds
    return 1.0 - ratio, -d_c, d_s, -d_tau


def spatial_cdf(r2: np.ndarray, inv_d2: np.ndarray, q: float) -> np.ndarray:
    """Radial CDF ``F(R) = 1 - (1 + R^2 / D^2)^(1 - q)`` from ``R^2`` (km^2) and ``1 / D^2``."""
    return -np.expm1((1.0 - q) * np.log1p(r2 * inv_d2))


def spatial_cdf_grad(
    r2: np.ndarray, inv_d2: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``F``, ``dF/d log D^2`` and ``dF/dq`` at ``R^2`` (same shapes as ``r2``; finite)."""
    x = r2 * inv_d2
    lg = np.log1p(x)
    surv = np.exp((1.0 - q) * lg)
    d_ld = (1.0 - q) * surv * (x / (1.0 + x))
    return 1.0 - surv, d_ld, surv * lg


def spatial_radius_bound(
    value: np.ndarray, d2_lo: float, d2_hi: float, q: float
) -> np.ndarray:
    """Largest r^2 (km^2) with ``max_{D^2 in [d2_lo, d2_hi]} f(r | D) >= value``.

    ``f(r | D) = (q - 1) / (pi D^2) (1 + r^2 / D^2)^(-q)`` reaches ``value`` at
    ``r^2 = h(w) = w ((a / (w v))^(1/q) - 1)`` with ``w = D^2``, ``a = (q - 1) / pi``; h is
    concave in w with its maximum at ``w* = (1 - 1/q)^q a / v``, so the bound is ``h`` at
    ``w*`` clipped to the interval. Returns 0 where no D reaches the value.
    """
    v = np.asarray(value, dtype=float)
    a = (q - 1.0) / math.pi
    with np.errstate(divide="ignore", over="ignore"):
        w = np.clip((1.0 - 1.0 / q) ** q * a / v, d2_lo, d2_hi)
        h = w * ((a / (w * v)) ** (1.0 / q) - 1.0)
    return np.where(np.isfinite(h), np.maximum(h, 0.0), np.inf)
