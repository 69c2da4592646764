"""Benchmark: ``lite-decluster run`` end to end against the reference pipeline, side by side.

Run from the repository root after ``pip install .`` (and, for the reference side, after the
export stage has written its forests)::

    python bench/run.py                  # SCSN M>=2.5 (62,596 events) and the 905k-event file
    python bench/run.py --only m25       # the M>=2.5 file only

Ours: the installed ``lite-decluster run`` command as a user runs it (read, features, predict
with the largest shipped model, write), in its own process; wall time and peak RSS of that
process, and the per-stage times from its summary.

Reference: the published pipeline re-created: the per-event pandas feature loop (as in the
published ``extract_features.py``; see bench/features.py) run whole on the first 1k, 2k and 5k
events, its per-event step timed on samples across the whole catalog, and the fit
a n + c n (n - 1) / 2 + d n extrapolated to the whole catalog (running it would take hours on
the 905k file), plus inference with the scikit-learn reference-style forest
(100 unbounded trees, the export stage's ``export/work/full/forests/reference.pkl``) loaded
from its pickle, in its own process. Its peak RSS is the larger of the two processes'.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import features as bf  # noqa: E402  (bench/features.py: the published loop and its fit)

SHARED = ROOT.parent / "shared" / "data"
FILES = {
    "m25": SHARED / "scsn_socal_1932_2026_M2.5.csv",
    "all": SHARED / "scsn_socal_1932_2026_all.csv.xz",
}
DEFAULT_FOREST = ROOT / "export" / "work" / "full" / "forests" / "reference.pkl"


def measure(cmd: list[str], **kw) -> dict:
    """Run a command; wall time, peak RSS (MB) of that process, its stdout and stderr."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, **kw)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        res = {
            "wall_s": wall,
            "peak_rss_mb": usage.ru_maxrss / 1024.0,
            "rc": os.waitstatus_to_exitcode(status),
            "stdout": out.read(),
            "stderr": err.read(),
        }
    proc.returncode = res["rc"]
    if res["rc"] != 0:
        raise RuntimeError(f"{cmd} failed ({res['rc']}):\n{res['stderr']}")
    return res


def ours(path: Path, tmp: Path) -> dict:
    exe = shutil.which("lite-decluster") or str(Path(sys.executable).parent / "lite-decluster")
    out = tmp / (path.name + ".declustered.csv")
    return measure([exe, "run", str(path), "--model", "100", "-o", str(out), "--force"], cwd=tmp)


# The reference inference step in its own process: prints one JSON line.
_INFER = """
import json, pickle, sys, time
import numpy as np
X = np.load({xfile!r})
t0 = time.perf_counter()
with open({forest!r}, "rb") as f:
    forest = pickle.load(f)
t1 = time.perf_counter()
forest.n_jobs = 1
p = forest.predict_proba(X)[:, 1]
t2 = time.perf_counter()
print(json.dumps({{"load_s": t1 - t0, "predict_s": t2 - t1, "rows": int(X.shape[0])}}))
"""


def reference(key: str, path: Path, tmp: Path, forest: Path) -> dict:
    """The reference pipeline on the same events above Mc: feature time (whole runs on 1k, 2k
    and 5k events, per-event cost sampled across the catalog, extrapolated with
    bench/features.py's fit), forest load and predict in its own process, and the peaks."""
    from lite_decluster import read_catalog
    from lite_decluster.pipeline import prepare_features

    prep = prepare_features(read_catalog(path), spec="aden2021")  # same Mc as our run
    n_events = len(prep.table)
    source = {"m25": "scsn", "all": "scsnall"}[key]
    loops = [bf.spawn(f"{source}:pandas", n) for n in (1_000, 2_000, 5_000)]
    samples = bf.spawn(f"{source}:sampled", n_events)["samples"]
    fit = bf.extrapolate_loop(loops, samples)
    res = {
        "n_events": n_events,
        "loop": loops,
        "samples": samples,
        "fit": fit,
        "loop_extrapolated_s": fit["predict"](n_events),
        "loop_peak_rss_mb": max(r["peak_rss_mb"] for r in loops),
    }
    if not forest.exists():
        res["forest"] = None
        return res
    X = prep.X[np.isfinite(prep.X).all(axis=1)]
    xfile = tmp / "ref_features.npy"
    np.save(xfile, X)
    r = measure([sys.executable, "-c", _INFER.format(xfile=str(xfile), forest=str(forest))])
    info = json.loads(r["stdout"].splitlines()[-1])
    res.update(
        forest=str(forest),
        forest_bytes=forest.stat().st_size,
        infer_wall_s=r["wall_s"],
        infer_peak_rss_mb=r["peak_rss_mb"],
        **info,
    )
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description="lite-decluster run vs the reference pipeline")
    ap.add_argument("--only", choices=sorted(FILES), help="one catalog only")
    ap.add_argument(
        "--forest",
        type=Path,
        default=DEFAULT_FOREST,
        help="scikit-learn forest pickle of the reference pipeline",
    )
    ap.add_argument("--no-reference", action="store_true", help="time our command only")
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"{SHARED} is absent: nothing to benchmark", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for key, path in FILES.items():
            if args.only and key != args.only:
                continue
            print(f"\n=== {path.name}", flush=True)
            r = ours(path, tmp)
            print(f"ours: wall {r['wall_s']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
            print("  summary (stderr of lite-decluster run):")
            print("    " + r["stderr"].strip().replace("\n", "\n    "))
            if args.no_reference:
                continue
            ref = reference(key, path, tmp, args.forest)
            n_events = ref["n_events"]
            for r0 in ref["loop"]:
                print(
                    f"reference feature loop: {r0['n']:>6,} events {r0['wall_s']:8.2f} s, "
                    f"peak RSS {r0['peak_rss_mb']:.0f} MB"
                )
            for p, sec in ref["samples"]:
                print(f"  loop step at event {p:>7,}: {1e3 * sec:.2f} ms per event (sampled)")
            fit = ref["fit"]
            print(
                f"  fit: {1e3 * fit['a_s']:.2f} ms per event + {1e6 * fit['c_s']:.4f} us per "
                f"earlier event + {1e3 * fit['d_s']:.2f} ms counts pass; extrapolated to the "
                f"{n_events:,} events above Mc: {ref['loop_extrapolated_s']:,.0f} s"
            )
            if ref.get("forest"):
                print(
                    f"reference forest {ref['forest_bytes'] / 1e6:,.0f} MB pickle: load "
                    f"{ref['load_s']:.1f} s, predict {ref['predict_s']:.1f} s on "
                    f"{ref['rows']:,} rows, peak RSS {ref['infer_peak_rss_mb']:,.0f} MB"
                )
                ref_time = ref["loop_extrapolated_s"] + ref["infer_wall_s"]
                ref_rss = max(ref["loop_peak_rss_mb"], ref["infer_peak_rss_mb"])
                print(
                    f"RATIOS: end to end {ref_time / r['wall_s']:,.0f}x faster "
                    f"({ref_time:,.0f} s vs {r['wall_s']:.2f} s); peak memory "
                    f"{r['peak_rss_mb'] / ref_rss:.3f} of the reference "
                    f"({r['peak_rss_mb']:.0f} MB vs {ref_rss:,.0f} MB)",
                    flush=True,
                )
            else:
                print(
                    f"reference forest {args.forest} absent: run `python -m export build` "
                    "first; feature-loop ratio only: "
                    f"{ref['loop_extrapolated_s'] / r['wall_s']:,.0f}x",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
