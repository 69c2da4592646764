"""Benchmark: the window methods (Gardner-Knopoff, Reasenberg) against bruces, same run.

Run from the repository root (needs ../shared/data and bruces, from the ``test`` extra)::

    python bench/windows.py             # everything (about 10 minutes on 2 cores)
    python bench/windows.py --quick     # no bruces on 100k events (its O(N^2) GK is slow)

Every case runs in its own subprocess, so its peak RSS is its own; the catalogs are read once
and handed to the cases as .npz files (time-sorted arrays), so reading the file does not count.
Prints one line per case (wall and CPU time, peak RSS), then the ratios bruces / ours measured in
this run, then the label agreement with bruces on the SCSN M >= 2.5 file since 1981 and on the
ComCat file (same windows and parameters: Reasenberg without location errors and xmeff = 1.5,
as bruces has no error terms and takes xmeff from the catalog's smallest magnitude otherwise).

Catalogs: the SCSN all-magnitudes file, earthquakes only (856,745 events), whole, its first
100k events (1932-1986) and its last 100k events (2021-2026: denser sequences).
bruces' numba code is compiled on a tiny catalog before timing (its compile time not counted).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT))

from lite_decluster.catalog import load_catalog  # noqa: E402
from lite_decluster.windows import gardner_knopoff, reasenberg  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "lite_decluster_bench_windows"


def _peak_rss_mb() -> float:
    """This process's peak RSS (MB): VmHWM, which starts afresh at exec (ru_maxrss would carry
    the parent's size over from the fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def arrays(path: Path, since: str | None = None) -> dict[str, np.ndarray]:
    """Time-sorted arrays of a catalog: ns (datetime64[ns]), t (days), lat, lon, m, z."""
    tab = load_catalog(path).table
    if since is not None:
        tab = tab[tab["time"] >= pd.Timestamp(since, tz="UTC")]
    tab = tab.sort_values("time", kind="stable")
    ns = tab["time"].dt.tz_localize(None).to_numpy("datetime64[ns]")
    return {
        "ns": ns,
        "t": (ns - ns[0]).astype(np.int64) / 86_400e9,
        "lat": tab["latitude"].to_numpy(float),
        "lon": tab["longitude"].to_numpy(float),
        "m": tab["magnitude"].to_numpy(float),
        "z": tab["depth"].to_numpy(float),
    }


def prepare() -> None:
    CACHE.mkdir(exist_ok=True)
    d = arrays(SHARED / "scsn_socal_1932_2026_all.csv.xz")
    np.savez(CACHE / "all.npz", **d)
    np.savez(CACHE / "first100k.npz", **{k: v[:100_000] for k, v in d.items()})
    last = {k: v[-100_000:] for k, v in d.items()}
    last["t"] = last["t"] - last["t"][0]
    np.savez(CACHE / "last100k.npz", **last)


def bruces_background(d: dict[str, np.ndarray], algorithm: str, **kw: object):
    """bruces' background flags in our order, and the time of its decluster call (s)."""
    import bruces

    times = d["ns"].astype("datetime64[ms]")
    cat = bruces.Catalog(origin_times=times, latitudes=d["lat"], longitudes=d["lon"],
                         depths=d["z"], magnitudes=d["m"])
    order = np.argsort(times)  # the order bruces sorts its catalog into
    t0, c0 = time.perf_counter(), time.process_time()
    idx = cat.decluster(algorithm=algorithm, return_indices=True, **kw)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bg = np.zeros(d["m"].size, dtype=bool)
    bg[order[idx]] = True
    return bg, wall, cpu


def run_case(case: str, data: str) -> dict[str, object]:
    d = dict(np.load(CACHE / f"{data}.npz"))
    rss0 = _peak_rss_mb()
    if case.startswith("bruces"):
        tiny = {k: v[:50] for k, v in d.items()}  # compile the numba code first
        bruces_background(tiny, "gardner-knopoff" if case == "bruces-gk" else "reasenberg")
        rss0 = _peak_rss_mb()
        if case == "bruces-gk":
            bg, wall, cpu = bruces_background(d, "gardner-knopoff")
        else:
            bg, wall, cpu = bruces_background(d, "reasenberg", xmeff=1.5)
        kept = int(bg.sum())
    else:
        t0, c0 = time.perf_counter(), time.process_time()
        if case == "ours-gk":
            r = gardner_knopoff(d["t"], d["lat"], d["lon"], d["m"])
        elif case == "ours-rb-same":  # bruces' parameters: no location-error terms
            r = reasenberg(d["t"], d["lat"], d["lon"], d["m"], d["z"], horiz_error=0.0,
                           depth_error=0.0)
        else:
            r = reasenberg(d["t"], d["lat"], d["lon"], d["m"], d["z"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        kept = int(r.mainshock.sum())
    return {"case": case, "data": data, "n": int(d["m"].size), "wall_s": wall, "cpu_s": cpu,
            "kept": kept, "peak_rss_mb": _peak_rss_mb(), "rss_before_mb": rss0}


def agreement() -> list[dict[str, object]]:
    rows = []
    for name, path, since in [
        ("SCSN M>=2.5 since 1981", SHARED / "scsn_socal_1932_2026_M2.5.csv", "1981-01-01"),
        ("ComCat California M>=2.5", SHARED / "comcat_california_2015_2025_M2.5.csv", None),
    ]:
        d = arrays(path, since)
        n = d["m"].size
        gk = gardner_knopoff(d["t"], d["lat"], d["lon"], d["m"]).mainshock
        bgk, _, _ = bruces_background(d, "gardner-knopoff")
        rb0 = reasenberg(d["t"], d["lat"], d["lon"], d["m"], d["z"], horiz_error=0.0,
                         depth_error=0.0).mainshock
        rb = reasenberg(d["t"], d["lat"], d["lon"], d["m"], d["z"]).mainshock
        brb, _, _ = bruces_background(d, "reasenberg", xmeff=1.5)
        for method, ours, theirs in [
            ("gardner-knopoff", gk, bgk),
            ("reasenberg, no location errors", rb0, brb),
            ("reasenberg, defaults (errors 1.5/2 km)", rb, brb),
        ]:
            rows.append({"catalog": name, "n": n, "method": method,
                         "agree": float(np.mean(ours == theirs)),
                         "differ": int(np.count_nonzero(ours != theirs)),
                         "kept_ours": int(ours.sum()), "kept_bruces": int(theirs.sum())})
    return rows


def _sub(*args: str) -> object:
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip bruces on 100k events")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--agreement", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.data)))
        return
    if args.prepare:
        prepare()
        print("null")
        return
    if args.agreement:
        print(json.dumps(agreement()))
        return
    if not SHARED.is_dir():
        sys.exit(f"needs the real catalogs in {SHARED}")
    _sub("--prepare")  # in its own process: this one stays small for the cases it starts
    plan = [("ours-gk", "all"), ("ours-rb", "all")]
    for data in ("first100k", "last100k"):
        plan += [("ours-gk", data), ("ours-rb", data), ("bruces-rb", data)]
        if not args.quick:
            plan.append(("bruces-gk", data))
    res = {}
    for case, data in plan:
        r = _sub("--case", case, "--data", data)
        res[case, data] = r
        print(f"{case:10s} {data:10s} n={r['n']:>7,}  wall {r['wall_s']:7.2f} s  "
              f"cpu {r['cpu_s']:7.2f} s  kept {r['kept']:>7,}  peak RSS {r['peak_rss_mb']:6.0f} MB "
              f"(before {r['rss_before_mb']:.0f})", flush=True)
    for data in ("first100k", "last100k"):
        for m in ("gk", "rb"):
            b, o = res.get((f"bruces-{m}", data)), res[(f"ours-{m}", data)]
            if b:
                print(f"ratio bruces/ours {m} {data}: wall {b['wall_s'] / o['wall_s']:.1f}x, "
                      f"cpu {b['cpu_s'] / o['cpu_s']:.1f}x")
    for row in _sub("--agreement"):
        print(f"agreement {row['catalog']:26s} {row['method']:40s} {100 * row['agree']:7.3f} % "
              f"({row['differ']} of {row['n']:,} differ; kept ours {row['kept_ours']:,}, "
              f"bruces {row['kept_bruces']:,})")


if __name__ == "__main__":
    main()
