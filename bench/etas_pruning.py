"""Benchmark: neglected intensity of the pruned pair sums against exact sums.

    python bench/etas_pruning.py

One simulated catalog (export.etas.simulate, seed 1, 5,075 events, true parameters), the
intensity from every earlier event (all pairs) against the pruned pairs of
``lite_decluster.etas.pairs.build_pairs`` with thresholds ``tol * lambda_lo_j`` (lambda_lo from
the pairs above the background, as ``decluster_etas`` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from export.etas import ETASParams, simulate  # noqa: E402
from lite_decluster.etas.geometry import make_geometry  # noqa: E402
from lite_decluster.etas.pairs import build_pairs, log_pair_value  # noqa: E402

P = ETASParams(mu=1.0, A=0.3, alpha=1.2, c=0.01, p=1.15, d=0.5, q=1.6, gamma=1.0, b=1.0,
               mc=2.0, mmax=7.0, Lx=100.0, Ly=100.0, duration=2000.0, burn_in=1000.0,
               buffer=20.0, tau=500.0)


def main() -> int:
    cat = simulate(P, 1)
    t, m, x, y = cat["time"], cat["magnitude"], cat["x"], cat["y"]
    geom = make_geometry(x, y, None, None)
    prm = {k: getattr(P, k) for k in ("mu", "A", "alpha", "c", "p", "tau", "d", "q", "gamma")}
    n = t.size
    exact = np.zeros(n)
    for j in range(1, n):
        i = np.flatnonzero(t[:j] < t[j])
        r2 = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2
        exact[j] = np.exp(log_pair_value(t[j] - t[i], r2, m[i], prm, P.mc)).sum()
    bg = np.full(n, P.mu / (P.Lx * P.Ly))
    child = np.ones(n, dtype=bool)

    def pruned_sum(pairs):
        v = np.exp(log_pair_value(pairs.dt, pairs.r2, m[pairs.i], prm, P.mc))
        return np.bincount(pairs.j, v, minlength=n)

    lam_lo = bg + pruned_sum(build_pairs(t, m, geom, child, np.log(bg), prm, P.mc))
    print(f"{n:,} events, {n * (n - 1) // 2:,} pairs in all")
    for tol in (1e-6, 1e-5, 1e-4, 1e-3):
        pairs = build_pairs(t, m, geom, child, np.log(tol * lam_lo), prm, P.mc)
        rel = (exact - pruned_sum(pairs)) / (exact + bg)
        print(f"tol {tol:g}: {len(pairs):,} pairs; neglected / lambda max {rel.max():.2e}, "
              f"mean {rel.mean():.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
