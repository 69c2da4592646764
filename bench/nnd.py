"""Benchmark: the NND threshold's classify stage, exact EM over every value against EM on a
0.001-log-unit histogram (lite_decluster.nnd), on the 905k-event SCSN file.

Run from the repository root::

    python bench/nnd.py                 # the 905k-event file from ../shared/data
    python bench/nnd.py FILE [FILE ...] # other catalogs

For each catalog: runs ``label_catalog(FILE, method='nnd-threshold')`` once (auto Mc, as the
command does) and prints its ``classify`` stage time, then, on the same log10 eta values,
times the old exact EM (the rule of commit c63d095, copied below) and the new
``nnd_threshold`` (median of 5 calls) and prints both thresholds, their difference and the
ratio of the times, all from the same run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from lite_decluster import declustering, nnd  # noqa: E402

_LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


def old_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact EM of commit c63d095: every value, to a 1e-10 log-likelihood gain."""
    sd_all = float(np.std(x))
    floor = (0.01 * sd_all) ** 2
    m = np.quantile(x, [0.25, 0.75]).astype(float)
    s, w = np.full(2, 0.5 * sd_all), np.full(2, 0.5)
    prev = -np.inf
    for _ in range(1000):
        z = (x[:, None] - m[None, :]) / s[None, :]
        lp = np.log(w)[None, :] - np.log(s)[None, :] - _LOG_SQRT_2PI - 0.5 * z * z
        top = lp.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(lp - top).sum(axis=1))
        resp = np.exp(lp - norm[:, None])
        nk = resp.sum(axis=0)
        w = nk / x.size
        m = (resp * x[:, None]).sum(axis=0) / nk
        var = (resp * (x[:, None] - m[None, :]) ** 2).sum(axis=0) / nk
        s = np.sqrt(np.maximum(var, floor))
        ll = float(norm.mean())
        if ll - prev < 1e-10:
            break
        prev = ll
    k = np.argsort(m)
    return w[k], m[k], s[k]


def old_threshold(x: np.ndarray) -> float:
    """nnd_threshold with the exact EM (the module's threshold rule, old fit)."""
    saved = nnd.fit_two_gaussians
    nnd.fit_two_gaussians = old_fit
    try:
        return nnd.nnd_threshold(x)
    finally:
        nnd.fit_two_gaussians = saved


def _timed(fn, x: np.ndarray, repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn(x)
        times.append(time.perf_counter() - start)
    return value, statistics.median(times)


def bench(path: Path) -> None:
    seen: dict[str, np.ndarray] = {}
    real = declustering.nnd_threshold

    def spy(values: np.ndarray) -> float:
        seen["x"] = np.asarray(values, dtype=float)
        return real(values)

    declustering.nnd_threshold = spy
    try:
        done = declustering.label_catalog(path, method="nnd-threshold", keep_raw=False,
                                          keep_events=False)
    finally:
        declustering.nnd_threshold = real
    x = seen["x"][np.isfinite(seen["x"])]
    print(f"{path.name}: {x.size:,} finite log10 eta values, run's classify stage "
          f"{done.info.timings['classify']:.3f} s (total run "
          f"{sum(done.info.timings.values()):.1f} s)")
    old, t_old = _timed(old_threshold, x, 1)
    new, t_new = _timed(nnd.nnd_threshold, x, 5)
    print(f"  exact EM (c63d095):  threshold {old:.6f}  {t_old:7.3f} s")
    print(f"  binned EM (0.001):   threshold {new:.6f}  {t_new:7.3f} s (median of 5)")
    print(f"  difference {new - old:+.2e} log units, speed-up x{t_old / t_new:.0f}")


def main(argv: list[str]) -> None:
    paths = [Path(a) for a in argv] or [SHARED / "scsn_socal_1932_2026_all.csv.xz"]
    for path in paths:
        bench(path)


if __name__ == "__main__":
    main(sys.argv[1:])
