"""Benchmark: accuracy of ``decluster_etas`` on the synthetic test catalogs vs the ETAS ceiling.

Run from the repository root (``pip install -e '.[export]'``)::

    python bench/etas_accuracy.py                 # test catalogs 0-19
    python bench/etas_accuracy.py --first 0 --count 30

Test catalog i is regenerated exactly as ``export/dataset.py`` does (seed state[100 + i] of the
master seed, full scale); events above the auto Mc (``select_events(mc="auto")``, maximum
curvature + 0.2) are kept; truth: aftershock = generation > 0.

* ceiling: p_background = mu u / lambda at the catalog's TRUE parameters, parents = the events
  above the auto Mc, lambda by exact sums over every earlier event (no pruning), written here
  independently of ``lite_decluster.etas`` (kernels of ``export/etas.py``'s docstring,
  reference magnitude the simulation Mc 2.0, u = 1 / L^2);
* fit: ``decluster_etas`` from its generic start over the known region [0, L]^2, reference
  magnitude the auto Mc.

Accuracy over the events above Mc of ``p_background > 0.5`` against the truth. Per-catalog
results are cached in ``bench/.cache/etas_accuracy/`` (git-ignored), so the run is resumable.
One process.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import special

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export.dataset import catalog_seeds, load_config, simulate_catalog  # noqa: E402
from lite_decluster.etas import decluster_etas  # noqa: E402
from lite_decluster.pipeline import select_events  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "etas_accuracy"


def _upper_gamma(s: float, x: float) -> float:
    if s > 0:
        return float(special.gamma(s) * special.gammaincc(s, x))
    return (_upper_gamma(s + 1.0, x) - x**s * math.exp(-x)) / s


def ceiling_p_background(t, x, y, m, prm: dict, chunk: int = 128) -> np.ndarray:
    """mu u / lambda with exact sums over all earlier events (u = 1 / (Lx Ly))."""
    c, p, tau = prm["c"], prm["p"], prm["tau"]
    z = c * (c / tau) ** (p - 1.0) * math.exp(c / tau) * _upper_gamma(1.0 - p, c / tau)
    dm = m - prm["mc"]
    kappa = prm["A"] * np.exp(prm["alpha"] * dm)
    d2 = prm["d"] ** 2 * np.exp(prm["gamma"] * dm)
    q = prm["q"]
    bg = prm["mu"] / (prm["Lx"] * prm["Ly"])
    n = t.size
    lam = np.full(n, bg)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        dt = t[lo:hi, None] - t[None, :hi]
        ok = dt > 0
        dts = np.where(ok, dt, 1.0)
        r2 = (x[lo:hi, None] - x[None, :hi]) ** 2 + (y[lo:hi, None] - y[None, :hi]) ** 2
        g = (1.0 + dts / c) ** (-p) * np.exp(-dts / tau) / z
        f = (q - 1.0) / (math.pi * d2[None, :hi]) * (1.0 + r2 / d2[None, :hi]) ** (-q)
        lam[lo:hi] += np.sum(np.where(ok, kappa[None, :hi] * g * f, 0.0), axis=1)
    return bg / lam


def run_catalog(i: int, seed: int, config: dict) -> dict:
    t0 = time.perf_counter()
    df, meta = simulate_catalog(seed, config, 1.0)
    sel = select_events(df[["time", "x", "y", "magnitude", "depth"]], mc="auto")
    keep = df["magnitude"].to_numpy() >= sel.mc - 1e-6
    cat = df[keep].sort_values("time", kind="stable")
    t = cat["time"].to_numpy(float)
    x, y = cat["x"].to_numpy(float), cat["y"].to_numpy(float)
    m = cat["magnitude"].to_numpy(float)
    truth_bg = cat["generation"].to_numpy() == 0
    prm = meta["params"]
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_ceiling = ceiling_p_background(t, x, y, m, prm)
    t_ceiling = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = decluster_etas(t, m, x=x, y=y, mc=float(sel.mc), region=(0.0, prm["Lx"], 0.0, prm["Ly"]))
    t_fit = time.perf_counter() - t0
    pb = res.p_background
    true_fit = {k: prm[k] for k in ("alpha", "c", "p", "tau", "d", "q", "gamma")}
    return {
        "index": i, "seed": seed, "n": int(t.size), "mc": float(sel.mc),
        "true_background_fraction": float(truth_bg.mean()),
        "acc_ceiling": float(np.mean((p_ceiling > 0.5) == truth_bg)),
        "acc_fit": float(np.mean((pb > 0.5) == truth_bg)),
        "bg_frac_fit": float(np.mean(pb > 0.5)),
        "bg_frac_ceiling": float(np.mean(p_ceiling > 0.5)),
        "fit": res.to_dict(), "true": true_fit,
        "true_branching_ratio": meta["branching_ratio"],
        "seconds": {"simulate": t_sim, "ceiling": t_ceiling, "fit": t_fit},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--count", type=int, default=20)
    args = ap.parse_args(argv)
    config = load_config()
    seeds = catalog_seeds(config, "test", 100)
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(args.first, args.first + args.count):
        path = CACHE / f"test_{i:03d}.json"
        if path.exists():
            row = json.loads(path.read_text())
        else:
            row = run_catalog(i, seeds[i], config)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(row, indent=1))
            tmp.replace(path)
        rows.append(row)
        f = row["fit"]
        print(f"test {i:3d}: n {row['n']:6d}  ceiling {row['acc_ceiling']:.4f}  fit "
              f"{row['acc_fit']:.4f}  diff {row['acc_fit'] - row['acc_ceiling']:+.4f}  "
              f"evals {f['n_evals']:3d}  pairs {f['n_pairs']:9,d}  "
              f"fit {row['seconds']['fit']:6.1f} s  converged {f['converged']}", flush=True)
    ceil = np.array([r["acc_ceiling"] for r in rows])
    fit = np.array([r["acc_fit"] for r in rows])
    diff = fit - ceil
    print(f"\n{len(rows)} catalogs: median accuracy ceiling {np.median(ceil):.4f}, fit "
          f"{np.median(fit):.4f} (difference of medians {np.median(fit) - np.median(ceil):+.4f});"
          f" paired difference median {np.median(diff):+.4f}, range [{diff.min():+.4f}, "
          f"{diff.max():+.4f}]; fit >= ceiling - 0.005 on {int(np.sum(diff >= -0.005))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
