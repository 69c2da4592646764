"""Benchmark: ``decluster_etas`` on the real SCSN catalogs (time, peak RSS, convergence).

Run from the repository root (needs ``../shared/data``)::

    python bench/etas.py                 # both cases, each in its own process
    python bench/etas.py --case m25      # SCSN M>=2.5 since 1981, Mc 2.5
    python bench/etas.py --case all      # all-magnitude SCSN file since 2000, Mc 1.5

Each case: read the file with ``lite_decluster.read_catalog``, keep events from the start year,
``select_events(mc=...)``, then time ``decluster_etas(t_days, m, lon=..., lat=..., mc=...)``
(default region: convex hull; default tol). Peak RSS is ``ru_maxrss`` of the case's own process
(reading included). One process at a time. Results go to ``bench/.cache/etas_<case>.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
CACHE = ROOT / "bench" / ".cache"
CASES = {
    "m25": ("scsn_socal_1932_2026_M2.5.csv", "1981-01-01", 2.5),
    "all": ("scsn_socal_1932_2026_all.csv.xz", "2000-01-01", 1.5),
}


def run_case(case: str) -> dict:
    import lite_decluster as ld
    from lite_decluster.etas import decluster_etas
    from lite_decluster.pipeline import select_events

    name, start, mc = CASES[case]
    t0 = time.perf_counter()
    cat = ld.read_catalog(DATA / name)
    cat = cat[cat["time"] >= pd.Timestamp(start, tz="UTC")]
    sel = select_events(cat, mc=mc, b=1.0).table.sort_values("time", kind="stable")
    t_read = time.perf_counter() - t0
    t = (sel["time"] - sel["time"].iloc[0]).dt.total_seconds().to_numpy() / 86400.0
    evals = []
    t1 = time.perf_counter()
    res = decluster_etas(t, sel["magnitude"].to_numpy(float), lon=sel["longitude"].to_numpy(float),
                         lat=sel["latitude"].to_numpy(float), mc=mc,
                         progress=lambda k, ll: evals.append((k, ll, time.perf_counter() - t1)))
    t_fit = time.perf_counter() - t1
    pb = res.p_background[res.in_target]
    return {
        "case": case, "file": name, "since": start, "mc": mc, "n": int(t.size),
        "seconds_read_select": t_read, "seconds_decluster_etas": t_fit,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "background_fraction": float(np.mean(pb > 0.5)), "summary": res.to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES))
    args = ap.parse_args(argv)
    if not DATA.is_dir():
        print(f"{DATA} is absent: nothing to benchmark", file=sys.stderr)
        return 1
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.case:
        out = run_case(args.case)
        (CACHE / f"etas_{args.case}.json").write_text(json.dumps(out, indent=1))
        s = out["summary"]
        print(f"{args.case}: {out['n']:,} events above Mc {out['mc']}: decluster_etas "
              f"{out['seconds_decluster_etas']:.1f} s (read + select "
              f"{out['seconds_read_select']:.1f} s), peak RSS {out['peak_rss_mb']:.0f} MB, "
              f"converged {s['converged']}, "
              f"{s['n_evals']} evaluations, {s['n_pairs']:,} pairs, loglik {s['loglik']:.2f}, "
              f"branching ratio {s['branching_ratio']:.3f}, background fraction "
              f"{out['background_fraction']:.3f}")
        print(json.dumps(s["params"]))
        return 0
    for case in CASES:
        subprocess.run([sys.executable, __file__, "--case", case], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
