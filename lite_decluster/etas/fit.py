"""Maximum-likelihood ETAS fit and stochastic declustering: :func:`decluster_etas`.

Rounds, each an L-BFGS-B fit of the free parameters on ``-log L / n_target`` in internal
coordinates (logs of mu, A, c, tau, d, p - 1, q - 1; alpha and gamma as they are), starting from
the previous round's parameters (the first from a generic start, never from true values):

1. coarse: pairs above ``BOOT_TOL`` times the background intensity at the child, kernel shares
   from ``COARSE_ANGLES`` rays, relative tolerance ``COARSE_FTOL``. For lon/lat the background
   density is then re-estimated from the fitted background probabilities (Zhuang et al. 2002)
   and the round repeated (``_BG_ROUNDS`` in all, fewer if log L changes by < ``_ROUND_TOL``).
2. fine: pairs above ``tol`` times a lower bound of the intensity (the background plus the
   previous round's pairs summed at the current parameters: the last coarse round's first),
   the full quadrature; repeated (at most ``_FINE_ROUNDS``) until rebuilding the pairs at the
   fitted parameters changes log L by less than ``_FINE_TOL``. The early fine rounds stop at
   ``COARSE_FTOL``, the last one (at the cap, or on pairs that settled) at ``_FINE_FTOL``.

Then ``p_background = mu u_j / lambda_j`` on the last pairs; standard errors from the inverse
of the observed information (Hessian by forward differences of the analytic gradient in
internal coordinates, delta method back).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from scipy import optimize

from lite_decluster.etas.background import SmoothBackground, homogeneous
from lite_decluster.etas.errors import EtasError
from lite_decluster.etas.geometry import make_geometry, make_region, ray_crossings
from lite_decluster.etas.kernels import PARAM_NAMES
from lite_decluster.etas.likelihood import Likelihood
from lite_decluster.etas.pairs import build_pairs
from lite_decluster.etas.params import SHIFTED, EtasResult, check_params

__all__ = ["GENERIC_START", "MIN_EVENTS", "decluster_etas"]

#: Generic start: branching ratio 0.5 (sets A), mu from the other half of the events.
GENERIC_START = {"branching_ratio": 0.5, "alpha": 1.5, "c": 0.01, "p": 1.15, "tau": 1000.0,
                 "d": 0.5, "q": 1.7, "gamma": 1.2}
#: Fewest target events for a fit with free parameters.
MIN_EVENTS = 100
_LOG = ("mu", "A", "c", "tau", "d")
_SHIFT = SHIFTED  # internal log(x - 1)
_BOUNDS = {"mu": (1e-8, 1e8), "A": (1e-6, 20.0), "alpha": (0.0, 5.0), "c": (1e-6, 10.0),
           "p": (1.0 + 1e-3, 3.0), "tau": (1.0, 1e6), "d": (1e-3, 1e3), "q": (1.0 + 1e-2, 5.0),
           "gamma": (0.0, 5.0)}
#: Coarse rounds: pairs above BOOT_TOL times the background intensity at the child, kernel
#: shares from COARSE_ANGLES rays, L-BFGS-B to a relative change COARSE_FTOL. The final round
#: keeps pairs above tol times the intensity summed over the coarse pairs (a lower bound of
#: lambda_j) and uses the full quadrature.
BOOT_TOL = 1.0
COARSE_ANGLES = 16
COARSE_FTOL = 1e-8
_ROUND_TOL = 1.0  # log-likelihood change that ends the background iteration
_BG_ROUNDS = 2
_FINE_ROUNDS = 3
_FINE_TOL = 0.5  # log-likelihood change from rebuilding the pairs that ends the fine rounds
_FINE_FTOL = 1e-11
_HESS_STEP = 1e-4


def _to_internal(name: str, v: float) -> float:
    if name in _LOG:
        return math.log(v)
    if name in _SHIFT:
        return math.log(v - 1.0)
    return v


def _to_natural(name: str, z: float) -> float:
    if name in _LOG:
        return math.exp(z)
    if name in _SHIFT:
        return 1.0 + math.exp(z)
    return z


def _jacobian(name: str, v: float) -> float:
    """d natural / d internal at natural value v."""
    if name in _LOG:
        return v
    if name in _SHIFT:
        return v - 1.0
    return 1.0


def _validate(t, m, mc, coords) -> tuple[np.ndarray, np.ndarray]:
    arrays = {"t_days": t, "m": m, **{k: v for k, v in coords.items() if v is not None}}
    out = {}
    for k, v in arrays.items():
        a = np.asarray(v, dtype=float)
        if a.ndim != 1:
            raise EtasError(f"{k} must be a 1-D array")
        if not np.isfinite(a).all():
            raise EtasError(f"{k} has {int((~np.isfinite(a)).sum())} non-finite value(s)")
        out[k] = a
    n = out["t_days"].size
    if any(a.size != n for a in out.values()):
        raise EtasError("the input arrays must all have the same length")
    if np.any(np.diff(out["t_days"]) < 0):
        raise EtasError("events must be sorted by time")
    try:
        mc = float(mc)
    except (TypeError, ValueError):
        raise EtasError(f"mc must be a number, not {mc!r}") from None
    if not math.isfinite(mc):
        raise EtasError("mc must be finite")
    if n and out["m"].min() < mc - 1e-6:
        raise EtasError(f"magnitudes must be >= mc = {mc:g} (smallest {out['m'].min():g})")
    return out["t_days"], out["m"]


def decluster_etas(
    t_days: np.ndarray,
    m: np.ndarray,
    *,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    lon: np.ndarray | None = None,
    lat: np.ndarray | None = None,
    mc: float,
    region: Any = None,
    target_start: float | None = None,
    params: Mapping[str, float] | None = None,
    fixed: Iterable[str] = (),
    tol: float = 1e-4,
    progress: Callable[[int, float], None] | None = None,
) -> EtasResult:
    """Fit a space-time ETAS model by maximum likelihood and decluster stochastically.

    Parameters
    ----------
    t_days : ndarray of shape (n,)
        Event times in days, sorted ascending.
    m : ndarray of shape (n,)
        Magnitudes, all >= mc (the reference magnitude of kappa and D).
    x, y : ndarray of shape (n,), optional
        Planar epicentres (km); homogeneous background.
    lon, lat : ndarray of shape (n,), optional
        Epicentres (degrees) on the sphere; kernel-smoothed background.
    mc : float
        Magnitude of completeness.
    region : None, 4-tuple or (k, 2) array
        None: convex hull of the epicentres; a box (x_min, x_max, y_min, y_max) or (lon_min,
        lon_max, lat_min, lat_max) (lon_min > lon_max crosses the antimeridian); or a polygon.
        Events outside are parents only.
    target_start : float, optional
        Start of the target window (days); earlier events are parents only. Default: the
        first event's time (the whole catalog is the target). The window ends at the last
        event.
    params : dict, optional
        Start values (and the values of ``fixed`` parameters); names in ``PARAM_NAMES``;
        ``tau = inf`` (or None in JSON) for the untapered kernel (then tau is not fitted).
    fixed : iterable of str
        Names of parameters held at their ``params`` value.
    tol : float
        Pruning tolerance: pairs whose value is below ``tol`` times the background intensity
        at the child are dropped (see ``pairs``).
    progress : callable(iteration, loglik), optional
        Called after every log-likelihood evaluation of the fit.

    Returns
    -------
    EtasResult

    Raises
    ------
    EtasError
        Unsorted or non-finite input, too few target events (``MIN_EVENTS``), a region of
        zero area, or a fit that does not converge.
    """
    t0_clock = time.perf_counter()
    t, m = _validate(t_days, m, mc, {"x": x, "y": y, "lon": lon, "lat": lat})
    mc = float(mc)
    if not tol > 0:
        raise EtasError(f"tol must be > 0, not {tol!r}")
    geom = make_geometry(x, y, lon, lat)
    if t.size < 3:
        raise EtasError(f"too few events to fit an ETAS model: {t.size}")
    reg = make_region(region, geom, lon, lat)
    inside = reg.contains(geom, lon, lat)
    t_start = float(t[0]) if target_start is None else float(target_start)
    t_end = float(t[-1])
    target = inside & (t >= t_start)
    n_target = int(target.sum())
    if not t_end > t_start:
        raise EtasError("the target window is empty (target_start is at or after the last event)")
    prm, free = _start(params, fixed, t, m, mc, target, t_end - t_start)
    if free and n_target < MIN_EVENTS:
        raise EtasError(f"too few events to fit an ETAS model: {n_target} in the target window "
                        f"and region (at least {MIN_EVENTS})")
    if n_target == 0:
        raise EtasError("no event in the target window and region")
    rays = ray_crossings(geom, reg)
    coarse_rays = ray_crossings(geom, reg, n_angles=COARSE_ANGLES, near_factor=1)
    smooth = SmoothBackground(geom, target, rays) if geom.sphere else None
    u = homogeneous(n_target, reg.area) if smooth is None else smooth.density(np.ones(n_target))
    n_evals, ll, message, converged = 0, -math.inf, "all parameters fixed", True
    counter = [0]
    history: list[float] = []

    def likelihood(prm: dict[str, float], u: np.ndarray, fine: bool,
                   lam_lo: np.ndarray | None = None) -> Likelihood:
        # Thresholds relative to a lower bound of lambda_j: the background, or (fine) the
        # intensity summed over a previous pair set at prm (all terms are positive): the
        # given lam_lo, else the pairs above BOOT_TOL times the background, built here.
        bg = prm["mu"] * u
        lik = None
        if lam_lo is None:
            lam_lo = bg
            steps = (BOOT_TOL, tol) if fine else (BOOT_TOL,)
        else:
            steps = (tol,)
        for rel in steps:
            if lik is not None:
                lam_lo = bg + lik.pair_sums(prm, False)["S0"]
                lik = None  # its memory is free for the next pair search
            log_eps = np.full(t.size, -np.inf)
            log_eps[target] = np.log(rel * lam_lo)
            lik = Likelihood(t, m, mc, target, t_start, t_end, u,
                             build_pairs(t, m, geom, target, log_eps, prm, mc),
                             rays if fine else coarse_rays)
        return lik

    def lower_bound(lik: Likelihood | None, prm: dict[str, float], u: np.ndarray):
        """mu u + the intensity over lik's pairs at prm (None without a likelihood)."""
        if lik is None or len(lik.pairs) == 0:
            return None
        return prm["mu"] * u + lik.pair_sums(prm, False)["S0"]

    rounds = 0
    lik = None
    if free:
        for rounds in range(1, (_BG_ROUNDS if smooth is not None else 1) + 1):  # noqa: B007
            lik = likelihood(prm, u, fine=False)
            prm, ll, res = _optimise(lik, prm, free, n_target, progress, counter, COARSE_FTOL)
            n_evals += int(res.nfev)
            history.append(ll)
            if smooth is not None:
                u = smooth.density(lik.classify(prm)[0])
            if rounds > 1 and abs(history[-1] - history[-2]) < _ROUND_TOL:
                break
    elif smooth is not None:
        # Fixed parameters: the background is still the data's, smoothed with the background
        # probabilities at those parameters, as the fit's rounds do.
        for _ in range(_BG_ROUNDS):
            lik = likelihood(prm, u, fine=False)
            u = smooth.density(lik.classify(prm)[0])
    # Fine rounds: pairs at the current parameters, fit; again until the pairs built at the
    # fitted parameters change the log-likelihood by less than _FINE_TOL. The thresholds'
    # lower bound of lambda: the previous round's pairs (the coarse ones first) at prm.
    tight = False
    for fine_round in range(_FINE_ROUNDS if free else 1):
        lam_lo = lower_bound(lik, prm, u)
        lik = None
        lik = likelihood(prm, u, fine=True, lam_lo=lam_lo)
        if not free:
            ll = lik(prm, grad=False)[0]
            break
        settled = bool(fine_round) and abs(lik(prm, grad=False)[0] - ll) < _FINE_TOL
        if settled and tight:
            break
        # Early rounds to COARSE_FTOL; the last one (the cap, or settled pairs) to the full one.
        tight = settled or fine_round == _FINE_ROUNDS - 1
        prm, ll, res = _optimise(lik, prm, free, n_target, progress, counter,
                                 _FINE_FTOL if tight else COARSE_FTOL)
        n_evals += int(res.nfev)
        converged, message = _converged(res)
        history.append(ll)
        rounds += 1
        if settled:
            break
    if not converged:
        raise EtasError(f"the ETAS fit did not converge after {n_evals} evaluations: {message}")
    p_t, par_t = lik.classify(prm)
    stderr = _stderr(lik, prm, free, n_target) if free else {}
    n = t.size
    p_bg = np.full(n, np.nan)
    p_bg[target] = p_t
    parent = np.full(n, -1, dtype=np.int64)
    parent[target] = par_t
    kappa_mean = float(np.mean(np.exp(prm["alpha"] * (m[target] - mc))))
    info = {
        "n_pairs": len(lik.pairs), "rounds": rounds, "loglik_rounds": history,
        "region": reg.description, "region_area_km2": reg.area, "geometry":
        "lon/lat (great circle)" if geom.sphere else "x/y (km)", "background":
        "kernel-smoothed (Zhuang et al. 2002)" if smooth else "homogeneous",
        "target_start": t_start, "target_end": t_end, "mc": mc, "tol": tol,
        "free": list(free), "seconds": time.perf_counter() - t0_clock,
    }
    return EtasResult(
        p_background=p_bg, parent=parent, in_target=target, params=dict(prm),
        stderr={k: stderr.get(k, math.nan) for k in PARAM_NAMES},
        branching_ratio=prm["A"] * kappa_mean, loglik=float(ll), converged=converged,
        n_evals=n_evals, message=message, info=info,
    )


def _start(params, fixed, t, m, mc, target, span) -> tuple[dict[str, float], list[str]]:
    given = check_params(dict(params or {}))
    fixed = list(fixed)
    bad = [k for k in fixed if k not in PARAM_NAMES]
    if bad:
        raise EtasError(f"unknown fixed parameter(s): {', '.join(bad)}")
    missing = [k for k in fixed if k not in given]
    if missing:
        raise EtasError(f"fixed parameter(s) without a value in params: {', '.join(missing)}")
    prm = {k: float(v) for k, v in GENERIC_START.items() if k != "branching_ratio"}
    prm.update({k: v for k, v in given.items() if k not in ("mu", "A")})
    n_target = max(int(target.sum()), 1)
    br = GENERIC_START["branching_ratio"]
    prm["A"] = given.get("A", br / float(np.mean(np.exp(prm["alpha"] * (m - mc)))))
    prm["mu"] = given.get("mu", (1.0 - br) * n_target / span)
    free = [k for k in PARAM_NAMES if k not in fixed and not (k == "tau" and
                                                                 math.isinf(prm["tau"]))]
    for k in free:
        lo, hi = _BOUNDS[k]
        prm[k] = min(max(prm[k], lo), hi)
    return {k: prm[k] for k in PARAM_NAMES}, free


def _optimise(lik, prm, free, n_target, progress, counter, ftol=_FINE_FTOL):
    z0 = np.array([_to_internal(k, prm[k]) for k in free])
    bounds = [(_to_internal(k, _BOUNDS[k][0]), _to_internal(k, _BOUNDS[k][1])) for k in free]
    best = {"ll": -math.inf}

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        cur = dict(prm)
        cur.update({k: _to_natural(k, float(v)) for k, v in zip(free, z, strict=True)})
        ll, g = lik(cur, grad=True)
        counter[0] += 1
        if progress is not None:
            progress(counter[0], ll)
        if not math.isfinite(ll) or g is None:
            return 1e10, np.zeros(z.size)
        if ll > best["ll"]:
            best.update(ll=ll, prm=cur)
        grad = np.array([g[k] * _jacobian(k, cur[k]) for k in free])
        return -ll / n_target, -grad / n_target

    res = optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=bounds,
                            options={"maxiter": 500, "maxfun": 1500, "ftol": ftol,
                                     "gtol": 1e-7})
    out = dict(prm)
    out.update({k: _to_natural(k, float(v)) for k, v in zip(free, res.x, strict=True)})
    return out, -float(res.fun) * n_target, res


def _converged(res) -> tuple[bool, str]:
    msg = str(res.message)
    if res.success:
        return True, msg
    # A line search that cannot improve at a point with a tiny gradient is at the optimum.
    small = float(np.max(np.abs(res.jac))) < 1e-5 if res.jac is not None else False
    return bool(small), msg


def _stderr(lik, prm, free, n_target) -> dict[str, float]:
    def grad(z: np.ndarray) -> np.ndarray:
        cur = dict(prm)
        cur.update({k: _to_natural(k, float(v)) for k, v in zip(free, z, strict=True)})
        g = lik(cur, grad=True)[1]
        return np.array([g[k] * _jacobian(k, cur[k]) for k in free])

    z = np.array([_to_internal(k, prm[k]) for k in free])
    g0 = grad(z)
    h = np.zeros((z.size, z.size))
    for a in range(z.size):  # forward differences of the analytic gradient
        e = np.zeros(z.size)
        e[a] = _HESS_STEP
        h[a] = -(grad(z + e) - g0) / _HESS_STEP
    h = 0.5 * (h + h.T)
    try:
        cov = np.linalg.inv(h)
    except np.linalg.LinAlgError:
        return {k: math.nan for k in free}
    var = np.diag(cov)
    return {k: (math.sqrt(v) * abs(_jacobian(k, prm[k])) if v > 0 else math.nan)
            for k, v in zip(free, var, strict=True)}
