"""Benchmark: ``lite-decluster run`` with the shipped models against another set of models.

    git show 3ac15c1:models_onnx/... > /tmp/v1/...     # e.g. the v1 forests (see below)
    python bench/run_models.py --baseline /tmp/v1 [--catalog FILE] [--repeats 3]

Runs the installed command on the SCSN M>=2.5 file (default; ``../shared/data``) with the
shipped default model and with the baseline folder's default model (``-m DIR/rf_td100.onnx``,
its manifest beside it), alternately, each in its own process; prints the median wall time and
peak RSS (``/usr/bin/time``-free: ``resource.getrusage`` of the child) of each and their ratio.
Outputs go to a temporary folder. To get the v1 forests of commit 3ac15c1::

    mkdir -p /tmp/v1 && for f in manifest.json golden.npz rf_td0{10,25,50,75}.onnx \\
        rf_td100.onnx; do git show 3ac15c1:models_onnx/$f > /tmp/v1/$f; done
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
M25 = ROOT.parent / "shared" / "data" / "scsn_socal_1932_2026_M2.5.csv"
THREADS: list[str] = []  # --threads N: passed to every run


def _one(catalog: Path, model: str | None, out: Path) -> tuple[float, float]:
    exe = shutil.which("lite-decluster") or "lite-decluster"
    cmd = [exe, "run", str(catalog), "-o", str(out), *THREADS]
    if model:
        cmd += ["-m", model]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out.unlink()
    # ru_maxrss of children is the largest child so far: exact for the first run of a kind,
    # an upper bound after; runs alternate, so report the larger of the two kinds' figures.
    return wall, max(peak, before) / 1024.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, help="folder with manifest.json and models")
    ap.add_argument("--catalog", default=str(M25))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="passed to lite-decluster run")
    args = ap.parse_args()
    if args.threads:
        THREADS[:] = ["--threads", str(args.threads)]
    base = str(Path(args.baseline) / "rf_td100.onnx")
    walls: dict[str, list[float]] = {"shipped": [], "baseline": []}
    peak: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for kind, model in (("shipped", None), ("baseline", base)):
                w, p = _one(Path(args.catalog), model, Path(tmp) / f"{kind}.csv")
                walls[kind].append(w)
                peak.setdefault(kind, p)
    for kind, ws in walls.items():
        print(f"{kind:<9} median {np.median(ws):.2f} s  (runs: "
              f"{', '.join(f'{w:.2f}' for w in ws)})  peak RSS {peak[kind]:.0f} MB")
    ratio = np.median(walls["shipped"]) / np.median(walls["baseline"])
    print(f"shipped / baseline: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
