"""Benchmark: ``lite-decluster run`` end to end against the reference pipeline, side by side.

Run from the repository root after ``pip install .`` (and, for the reference side, after the
export stage has written its forests)::

    python bench/run.py                  # SCSN M>=2.5 (62,596 events) and the 905k-event file
    python bench/run.py --only m25       # the M>=2.5 file only

Ours: the installed ``lite-decluster run`` command as a user runs it (read, features, predict
with the largest shipped model, write), in its own process; wall time and peak RSS of that
process, and the per-stage times from its summary.

Reference: the published pipeline re-created: the per-event pandas feature loop (as in the
published ``extract_features.py``; see bench/features.py) timed on the first 1k, 2k and 5k events
and extrapolated to the whole catalog with a power-law fit of those timings (running it on
62k events would take hours), plus inference with the scikit-learn reference-style forest
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


# Child-process snippets of the reference pipeline: each prints one JSON line.
_LOOP = """
import json, sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {root!r} + '/bench')
from lite_decluster import read_catalog
from features import published_pandas_loop
cat = read_catalog({path!r}).iloc[:{n}].reset_index(drop=True)
t0 = time.perf_counter()
published_pandas_loop(cat)
print(json.dumps({{"seconds": time.perf_counter() - t0}}))
"""

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


def reference(path: Path, tmp: Path, forest: Path, n_events: int) -> dict:
    """The reference pipeline's extrapolated feature time, forest load + predict, peaks."""
    sizes = [1_000, 2_000, 5_000]
    loops = []
    for n in sizes:
        r = measure([sys.executable, "-c", _LOOP.format(root=str(ROOT), path=str(path), n=n)])
        loops.append((n, json.loads(r["stdout"].splitlines()[-1])["seconds"], r["peak_rss_mb"]))
    ns = np.array([n for n, _, _ in loops], float)
    ts = np.array([s for _, s, _ in loops])
    k, logc = np.polyfit(np.log(ns), np.log(ts), 1)
    loop_s = float(np.exp(logc) * n_events**k)
    res = {
        "loop": loops,
        "loop_exponent": float(k),
        "loop_extrapolated_s": loop_s,
        "loop_peak_rss_mb": max(r for _, _, r in loops),
    }
    if not forest.exists():
        res["forest"] = None
        return res
    sys.path.insert(0, str(ROOT))
    from lite_decluster import read_catalog
    from lite_decluster.pipeline import prepare_features

    prep = prepare_features(read_catalog(path), spec="aden2021")
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
            n_events = sum(1 for _ in open(tmp / (path.name + ".declustered.csv"))) - 1
            ref = reference(path, tmp, args.forest, n_events)
            for n, s, rss in ref["loop"]:
                print(f"reference feature loop: {n:>6,} events {s:8.2f} s, peak RSS {rss:.0f} MB")
            print(
                f"  time ~ n^{ref['loop_exponent']:.2f}; extrapolated to {n_events:,} events: "
                f"{ref['loop_extrapolated_s']:,.0f} s"
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
