"""ETAS log-likelihood over a target window and region, with its analytic gradient.

For target events j (``T0 <= t_j <= T1``, inside the region) and parents i (every event,
auxiliary-window and outside-region events included)::

    log L = sum_j log lambda_j - mu (T1 - T0) - sum_i kappa(m_i) [G(T1 - t_i) - G((T0 - t_i)+)] S_i
    lambda_j = mu u_j + sum_{pairs i -> j} kappa(m_i) g(t_j - t_i) f(r_ij | m_i)

with ``u`` the background density (1/km^2) normalised to 1 over the region, ``G`` the exact CDF
of the time kernel and ``S_i`` the share of event i's spatial kernel inside the region
(angular quadrature, ``geometry.Rays``). Pair sums run over the pruned pairs
(``pairs.build_pairs``). The gradient is accumulated per child in one pass over the pairs:
``d log L / d theta = sum_j (sum_i v_ij d log v_ij / d theta) / lambda_j - d(integral) /
d theta``. The pairs (sorted by child) and the rays (sorted by event) are processed in blocks
of ``_CHUNK`` with preallocated buffers (they stay in the CPU cache; a fresh multi-megabyte
temporary per operation cost more than the arithmetic), the per-child and per-event sums by
``np.add.reduceat`` over each block's segments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lite_decluster.etas.geometry import Rays
from lite_decluster.etas.kernels import PARAM_NAMES, omori_cdf, omori_log_norm
from lite_decluster.etas.pairs import Pairs, log_pair_value

__all__ = ["Likelihood"]

_CHUNK = 1 << 16  # pairs (rays) per block: the work buffers stay in the CPU cache
_SUM_KEYS = ("S0", "Sa", "Sc", "Sp", "St", "Sy", "Sya", "Sq")


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.multiply(a, b).sum())


def _blocks(seg: np.ndarray) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
    """Blocks of ``_CHUNK`` positions of a sorted segment array: (lo, hi, segment ids present,
    their first positions within the block), for ``np.add.reduceat``."""
    out = []
    for lo in range(0, seg.size, _CHUNK):
        hi = min(lo + _CHUNK, seg.size)
        s = seg[lo:hi]
        starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
        out.append((lo, hi, s[starts], starts))
    return out


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
        self.pj = self.tindex[self.pairs.j].astype(np.int32)
        self.n_target = int(self.target.sum())
        dm = self.m - self.mc
        self._pair_dm = dm[self.pairs.i]  # parent magnitude above mc, per pair
        self._pair_blocks = _blocks(self.pj)
        ry = self.rays
        if ry.event.size > 1 and np.any(np.diff(ry.event) < 0):  # sorted by event for reduceat
            o = np.argsort(ry.event, kind="stable")
            ry = self.rays = Rays(ry.event[o], ry.r2[o], ry.weight[o], ry.n)
        self._ray_blocks = [(lo, hi, evs, starts, np.diff(np.r_[starts, hi - lo]))
                            for lo, hi, evs, starts in _blocks(ry.event)]
        self._ray_wsum = np.bincount(ry.event, ry.weight, minlength=ry.n)

    # ---------------------------------------------------------------------------------------
    def pair_sums(self, prm: dict[str, float], grad: bool) -> dict[str, np.ndarray]:
        """Per-child sums over pairs of v_ij times the factors of the gradient (n_target,)."""
        c, p, tau, q = prm["c"], prm["p"], prm["tau"], prm["q"]
        log_z = omori_log_norm(c, p, tau)[0]
        ld0 = 2.0 * math.log(prm["d"])
        gam = prm["gamma"]
        # log v = a0 + (alpha - gamma) dm_i - p log1p(dt / c) - q log1p(r^2 / D_i^2) - dt / tau
        a0 = math.log(prm["A"]) - ld0 + math.log((q - 1.0) / math.pi) - log_z
        ag = prm["alpha"] - gam
        inv_c, inv_tau = 1.0 / c, (1.0 / tau if math.isfinite(tau) else 0.0)
        keys = _SUM_KEYS if grad else _SUM_KEYS[:1]
        out = np.zeros((len(keys), self.n_target))
        pr = self.pairs
        size = min(_CHUNK, len(pr))
        l1, x, l2, lv, v, tmp, vy = (np.empty(size) for _ in range(7))
        for lo, hi, kids, starts in self._pair_blocks:
            k = hi - lo
            dt, r2, mm = pr.dt[lo:hi], pr.r2[lo:hi], self._pair_dm[lo:hi]
            b_l1, b_x, b_l2, b_lv, b_v, b_t, b_vy = (a[:k] for a in (l1, x, l2, lv, v, tmp, vy))
            np.multiply(dt, inv_c, out=b_l1)
            np.log1p(b_l1, out=b_l1)
            np.multiply(mm, -gam, out=b_x)
            b_x -= ld0
            np.exp(b_x, out=b_x)
            b_x *= r2  # r^2 / D_i^2
            np.log1p(b_x, out=b_l2)
            np.multiply(mm, ag, out=b_lv)
            b_lv += a0
            np.multiply(b_l1, p, out=b_t)
            b_lv -= b_t
            np.multiply(b_l2, q, out=b_t)
            b_lv -= b_t
            if inv_tau:
                np.multiply(dt, inv_tau, out=b_t)
                b_lv -= b_t
            np.exp(b_lv, out=b_v)
            out[0, kids] += np.add.reduceat(b_v, starts)
            if not grad:
                continue
            for row, f in ((1, mm), (3, b_l1), (4, dt), (7, b_l2)):  # Sa, Sp, St, Sq
                np.multiply(b_v, f, out=b_t)
                out[row, kids] += np.add.reduceat(b_t, starts)
            np.add(dt, c, out=b_t)  # Sc: v dt / (c + dt)
            np.divide(dt, b_t, out=b_t)
            b_t *= b_v
            out[2, kids] += np.add.reduceat(b_t, starts)
            np.add(b_x, 1.0, out=b_t)  # Sy: v y, y = x / (1 + x); Sya: v y dm
            np.divide(b_x, b_t, out=b_t)
            np.multiply(b_t, b_v, out=b_vy)
            out[5, kids] += np.add.reduceat(b_vy, starts)
            b_vy *= mm
            out[6, kids] += np.add.reduceat(b_vy, starts)
        return dict(zip(keys, out, strict=True))

    def shares(self, prm: dict[str, float], grad: bool = False):
        """Kernel shares inside the region S (n,), and with grad dS/dlogD^2 and dS/dq.

        ``S = sum_rays w F(r)`` with ``F = 1 - surv``, ``surv = (1 + r^2 / D^2)^(1 - q)``:
        ``S = sum w - sum w surv``, ``dS/dlogD^2 = (1 - q) sum w surv y`` (``y = x / (1 + x)``,
        ``x = r^2 / D^2``) and ``dS/dq = sum w surv log1p(x)`` (see
        ``kernels.spatial_cdf_grad``)."""
        ld0 = 2.0 * math.log(prm["d"])
        gam, q = prm["gamma"], prm["q"]
        ry = self.rays
        acc = np.zeros((3 if grad else 1, ry.n))
        size = min(_CHUNK, ry.r2.size)
        x, lg, ws, tmp = (np.empty(size) for _ in range(4))
        inv_d2 = np.exp(-ld0 - gam * (self.m - self.mc))
        for lo, hi, evs, starts, counts in self._ray_blocks:
            k = hi - lo
            b_x, b_lg, b_ws, b_t = (a[:k] for a in (x, lg, ws, tmp))
            np.multiply(np.repeat(inv_d2[evs], counts), ry.r2[lo:hi], out=b_x)
            np.log1p(b_x, out=b_lg)
            np.multiply(b_lg, 1.0 - q, out=b_ws)
            np.exp(b_ws, out=b_ws)
            b_ws *= ry.weight[lo:hi]  # w surv
            acc[0, evs] += np.add.reduceat(b_ws, starts)
            if not grad:
                continue
            np.add(b_x, 1.0, out=b_t)
            np.divide(b_x, b_t, out=b_t)
            b_t *= b_ws
            acc[1, evs] += np.add.reduceat(b_t, starts)
            np.multiply(b_ws, b_lg, out=b_t)
            acc[2, evs] += np.add.reduceat(b_t, starts)
        s = self._ray_wsum - acc[0]
        if not grad:
            return s
        return s, (1.0 - q) * acc[1], acc[2]

    def time_mass(self, prm: dict[str, float], grad: bool = False):
        """G(T1 - t_i) - G((T0 - t_i)+) (n,), and with grad its derivatives in c, p, tau."""
        c, p, tau = prm["c"], prm["p"], prm["tau"]
        late = omori_cdf(np.maximum(self.t1 - self.t, 0.0), c, p, tau, grad=grad)
        if not grad:
            late = (late,)
        # G(0) = 0 and its derivatives vanish: the early term only for events before T0
        before = np.flatnonzero(self.t < self.t0)
        if before.size:
            early = omori_cdf(self.t0 - self.t[before], c, p, tau, grad=grad)
            for a, b in zip(late, early if grad else (early,), strict=True):
                a[before] -= b
        return late if grad else late[0]

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
        # Sums as multiply-and-sum, not BLAS dot: OpenBLAS's threads stall on a shared machine.
        s0 = sums["S0"]
        g = {
            "mu": _dot(self.u, inv) - span,
            "A": (_dot(s0, inv) - w.sum()) / A,
            "alpha": _dot(sums["Sa"], inv) - _dot(w, dm),
            "c": _dot(p / c * sums["Sc"] - lz_c * s0, inv) - _dot(kappa * s, gm_c),
            "p": _dot(-sums["Sp"] - lz_p * s0, inv) - _dot(kappa * s, gm_p),
            "tau": 0.0,
            "d": 2.0 / d * (_dot(q * sums["Sy"] - s0, inv) - _dot(kappa * gm, s_ld)),
            "q": _dot(s0 / (q - 1.0) - sums["Sq"], inv) - _dot(kappa * gm, s_q),
            "gamma": _dot(q * sums["Sya"] - sums["Sa"], inv) - _dot(kappa * gm * s_ld, dm),
        }
        if math.isfinite(tau):
            g["tau"] = _dot(sums["St"] / tau**2 - lz_t * s0, inv) - _dot(kappa * s, gm_t)
        g = {k: float(v) for k, v in g.items()}
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
