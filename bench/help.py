"""How quickly ``lite-decluster --help`` answers (target: at most 0.3 s median wall).

For each command's --help: the median wall time over N fresh processes (the console script,
as a user runs it) and its peak RSS, beside two baselines measured in the same run: an empty
``python -c pass`` and ``python -c 'import typer'`` (the floor of any typer command).

    python bench/help.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _once(cmd: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return wall, usage.ru_maxrss / 1024


def measure(cmd: list[str], repeat: int) -> tuple[float, float]:
    runs = [_once(cmd) for _ in range(repeat)]
    return statistics.median(w for w, _ in runs), max(m for _, m in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    exe = shutil.which("lite-decluster") or str(Path(sys.executable).parent / "lite-decluster")
    py = sys.executable
    base, _ = measure([py, "-c", "pass"], args.repeat)
    floor, _ = measure([py, "-c", "import typer"], args.repeat)
    print(f"python -c pass        {base * 1000:7.0f} ms")
    print(f"python -c import typer {floor * 1000:6.0f} ms")
    for sub in ([], ["run"], ["models"], ["plot"]):
        wall, rss = measure([exe, *sub, "--help"], args.repeat)
        name = " ".join(["lite-decluster", *sub, "--help"])
        verdict = "met" if wall <= 0.3 else "MISSED"
        print(f"{name:<30} {wall * 1000:5.0f} ms median of {args.repeat}, peak {rss:5.0f} MB, "
              f"{wall / floor:4.2f}x import typer  (target 300 ms: {verdict})")


if __name__ == "__main__":
    main()
