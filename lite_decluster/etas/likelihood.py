"""ETAS log-likelihood over a target window and region, with its analytic gradient.

For target events j (``T0 <= t_j <= T1``, inside the region) and parents i (every event,
auxiliary-window and outside-region events included)::

    log L = sum_j log lambda_j - mu (T1 - T0) - sum_i kappa(m_i) [G(T1 - t_i) - G((T0 - t_i)+)] S_i
    lambda_j = mu u_j + sum_{pairs i -> j} kappa(m_i) g(t_j - t_i) f(r_ij | m_i)

with ``u`` the background density (1/km^2) normalised to 1 over the region, ``G`` the exact CDF
of the time kernel and ``S_i`` the share of event i's spatial kernel inside the region
(angular quadrature, ``geometry.Rays``). Pair sums run over the pruned pairs
(``pairs.build_pairs``). The gradient is accumulated per child in one pass over the pairs
(chunks of ``_CHUNK``): ``d log L / d theta = sum_j (sum_i v_ij d log v_ij / d theta) /
lambda_j - d(integral) / d theta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lite_decluster.etas.geometry import Rays
from lite_decluster.etas.kernels import (
    PARAM_NAMES,
    omori_cdf,
    omori_log_norm,
    spatial_cdf_grad,
)
from lite_decluster.etas.pairs import Pairs, log_pair_value

__all__ = ["Likelihood"]

_CHUNK = 1 << 20


@dataclass
class Likelihood:
    """The log-likelihood of one catalog, target window and region.

    Attributes
    ----------
    t, m : ndarray of shape (n,)
        Times (days, sorted) and magnitudes of every event.
    mc : float
        Reference magnitude of kappa and D (the Mc).
    target : bool ndarray of shape (n,)
        Target events.
    t0, t1 : float
        Target window (days).
    u : ndarray of shape (n_target,)
        Background density at the target events (1/km^2; integrates to 1 over the region).
    pairs : Pairs
        Kept pairs (children are target events).
    rays : Rays
        Boundary crossings of every event's rays.
    """

    t: np.ndarray
    m: np.ndarray
    mc: float
    target: np.ndarray
    t0: float
    t1: float
    u: np.ndarray
    pairs: Pairs
    rays: Rays

    def __post_init__(self) -> None:
        self.tindex = np.cumsum(self.target) - 1  # position -> target index
        self.pj = self.tindex[self.pairs.j].astype(np.int64)
        self.n_target = int(self.target.sum())

    # ---------------------------------------------------------------------------------------
    def pair_sums(self, prm: dict[str, float], grad: bool) -> dict[str, np.ndarray]:
        """Per-child sums over pairs of v_ij times the factors of the gradient (n_target,)."""
        c, p, tau, q = prm["c"], prm["p"], prm["tau"], prm["q"]
        log_z = omori_log_norm(c, p, tau)[0]
        dm = self.m - self.mc
        log_k = math.log(prm["A"]) + prm["alpha"] * dm
        log_d2 = 2.0 * math.log(prm["d"]) + prm["gamma"] * dm
        const = math.log((q - 1.0) / math.pi) - log_z
        keys = ("S0", "Sa", "Sc", "Sp", "St", "Sy", "Sya", "Sq") if grad else ("S0",)
        out = {k: np.zeros(self.n_target) for k in keys}
        pr, nt = self.pairs, self.n_target
        for lo in range(0, len(pr), _CHUNK):
            sl = slice(lo, lo + _CHUNK)
            i, jj, dt = pr.i[sl], self.pj[sl], pr.dt[sl]
            l1 = np.log1p(dt / c)
            x = pr.r2[sl] * np.exp(-log_d2[i])
            l2 = np.log1p(x)
            lv = log_k[i] - log_d2[i] + const - p * l1 - q * l2
            if math.isfinite(tau):
                lv -= dt / tau
            v = np.exp(lv)
            out["S0"] += np.bincount(jj, v, minlength=nt)
            if not grad:
                continue
            mm = dm[i]
            y = x / (1.0 + x)
            out["Sa"] += np.bincount(jj, v * mm, minlength=nt)
            out["Sc"] += np.bincount(jj, v * dt / (c + dt), minlength=nt)
            out["Sp"] += np.bincount(jj, v * l1, minlength=nt)
            out["St"] += np.bincount(jj, v * dt, minlength=nt)
            vy = v * y
            out["Sy"] += np.bincount(jj, vy, minlength=nt)
            out["Sya"] += np.bincount(jj, vy * mm, minlength=nt)
            out["Sq"] += np.bincount(jj, v * l2, minlength=nt)
        return out

    def shares(self, prm: dict[str, float], grad: bool = False):
        """Kernel shares inside the region S (n,), and with grad dS/dlogD^2 and dS/dq."""
        dm = self.m - self.mc
        inv_d2 = np.exp(-(2.0 * math.log(prm["d"]) + prm["gamma"] * dm))
        ry = self.rays
        f, f_ld, f_q = spatial_cdf_grad(ry.r2, inv_d2[ry.event], prm["q"])
        s = np.bincount(ry.event, ry.weight * f, minlength=ry.n)
        if not grad:
            return s
        s_ld = np.bincount(ry.event, ry.weight * f_ld, minlength=ry.n)
        s_q = np.bincount(ry.event, ry.weight * f_q, minlength=ry.n)
        return s, s_ld, s_q

    def time_mass(self, prm: dict[str, float], grad: bool = False):
        """G(T1 - t_i) - G((T0 - t_i)+) (n,), and with grad its derivatives in c, p, tau."""
        c, p, tau = prm["c"], prm["p"], prm["tau"]
        late = omori_cdf(np.maximum(self.t1 - self.t, 0.0), c, p, tau, grad=grad)
        early = omori_cdf(np.maximum(self.t0 - self.t, 0.0), c, p, tau, grad=grad)
        if not grad:
            return late - early
        return tuple(a - b for a, b in zip(late, early, strict=True))

    # ---------------------------------------------------------------------------------------
    def __call__(
        self, prm: dict[str, float], grad: bool = True
    ) -> tuple[float, dict[str, float] | None]:
        """Log-likelihood and (if ``grad``) its gradient, a dict over ``PARAM_NAMES``
        (natural parameters; d/dtau is 0 for the untapered kernel)."""
        mu, A, c, p, tau, d, q = (prm[k] for k in ("mu", "A", "c", "p", "tau", "d", "q"))
        dm = self.m - self.mc
        kappa = A * np.exp(prm["alpha"] * dm)
        sums = self.pair_sums(prm, grad)
        lam = mu * self.u + sums["S0"]
        if np.any(lam <= 0):
            return -math.inf, None
        span = self.t1 - self.t0
        if grad:
            s, s_ld, s_q = self.shares(prm, True)
            gm, gm_c, gm_p, gm_t = self.time_mass(prm, True)
        else:
            s, gm = self.shares(prm), self.time_mass(prm)
        w = kappa * gm * s  # expected offspring of each parent inside the target window
        ll = float(np.sum(np.log(lam)) - mu * span - np.sum(w))
        if not grad:
            return ll, None
        inv = 1.0 / lam
        _, lz_c, lz_p, lz_t = omori_log_norm(c, p, tau)
        s0 = sums["S0"]
        g = {
            "mu": float(self.u @ inv - span),
            "A": float((s0 @ inv - w.sum()) / A),
            "alpha": float(sums["Sa"] @ inv - (w * dm).sum()),
            "c": float((p / c * sums["Sc"] - lz_c * s0) @ inv - (kappa * s * gm_c).sum()),
            "p": float((-sums["Sp"] - lz_p * s0) @ inv - (kappa * s * gm_p).sum()),
            "tau": 0.0,
            "d": float(2.0 / d * ((q * sums["Sy"] - s0) @ inv - (kappa * gm * s_ld).sum())),
            "q": float((s0 / (q - 1.0) - sums["Sq"]) @ inv - (kappa * gm * s_q).sum()),
            "gamma": float((q * sums["Sya"] - sums["Sa"]) @ inv - (kappa * gm * s_ld * dm).sum()),
        }
        if math.isfinite(tau):
            g["tau"] = float((sums["St"] / tau**2 - lz_t * s0) @ inv - (kappa * s * gm_t).sum())
        return ll, {k: g[k] for k in PARAM_NAMES}

    def classify(self, prm: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """p_background (n_target,) and the most probable triggering event of every target
        event (position, -1 when it has no candidate parent): whether the event was triggered
        at all is ``p_background``'s question; this one is by whom if it was (the link that
        puts an aftershock in its parent's cluster)."""
        mu = prm["mu"]
        pr = self.pairs
        bg = mu * self.u
        lam = bg + self.pair_sums(prm, False)["S0"]
        parent = np.full(self.n_target, -1, dtype=np.int64)
        if len(pr):
            best = np.full(self.n_target, -np.inf)
            best_i = np.full(self.n_target, -1, dtype=np.int64)
            for lo in range(0, len(pr), _CHUNK):
                sl = slice(lo, lo + _CHUNK)
                lv = log_pair_value(pr.dt[sl], pr.r2[sl], self.m[pr.i[sl]], prm, self.mc)
                jj = self.pj[sl]
                # pairs are sorted by child: the per-child maximum of this chunk by reduceat
                starts = np.flatnonzero(np.r_[True, jj[1:] != jj[:-1]])
                seg_max = np.maximum.reduceat(lv, starts)
                kids = jj[starts]
                idx = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, jj.size]))
                is_max = lv == seg_max[idx]
                first = np.flatnonzero(is_max)
                first = first[np.r_[True, idx[first][1:] != idx[first][:-1]]]
                better = seg_max > best[kids]
                best[kids[better]] = seg_max[better]
                best_i[kids[better]] = pr.i[sl][first][better]
            parent = best_i
        return bg / lam, parent
