"""Check the shipped models bit for bit under several onnxruntime versions.

    python -m export ort-compat --versions 1.21.1 1.32.0 --models models_onnx/ [--record]

For each version, ``pip install --target <cache>/ort-<version> --no-deps onnxruntime==<v>``
(once; numpy<2 is added to that folder for onnxruntime < 1.19, which was built against
numpy 1), then a subprocess whose PYTHONPATH is that folder only, started outside the
repository, loads every model of ``manifest.json``, checks its sha256, runs it on the golden
features of ``golden.npz`` and compares with the stored probabilities using
``np.array_equal``. Prints a table; returns nonzero on any mismatch or failure. ``--record``
writes the versions that passed into each manifest entry as ``verified_onnxruntime``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_CACHE = Path(__file__).resolve().parent / "work" / "ort"  # export/work/ is ignored

# Runs in the child interpreter: stdlib + numpy + the onnxruntime under test only.
_WORKER = r"""
import hashlib, json, sys
import numpy as np
import onnxruntime as ort

want_version, target, models_dir = sys.argv[1], sys.argv[2], sys.argv[3]
out = {"version": ort.__version__, "file": ort.__file__, "numpy": np.__version__, "models": []}
if ort.__version__ != want_version or not ort.__file__.startswith(target):
    out["error"] = f"imported onnxruntime {ort.__version__} from {ort.__file__}"
    print(json.dumps(out)); sys.exit(0)
with open(models_dir + "/manifest.json", encoding="utf-8") as f:
    manifest = json.load(f)
gfile = models_dir + "/" + manifest.get("golden", {}).get("file", "golden.npz")
with np.load(gfile, allow_pickle=False) as z:
    golden = {k: z[k] for k in z.files}
X = np.ascontiguousarray(golden["X"], dtype=np.float32)
for entry in manifest["models"]:
    r = {"name": entry["name"], "ok": False, "mismatches": None, "max_abs_diff": None}
    out["models"].append(r)
    try:
        data = open(models_dir + "/" + entry["file"], "rb").read()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            r["error"] = "sha256 differs from manifest"; continue
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        in_name = entry.get("input_name") or sess.get_inputs()[0].name
        out_name = entry.get("output_name") or sess.get_outputs()[0].name
        p = np.empty(X.shape[0], dtype=np.float64)
        for s in range(0, X.shape[0], 100000):
            xb = X[s:s + 100000]
            res = sess.run([out_name], {in_name: xb})[0]
            p[s:s + xb.shape[0]] = np.asarray(res, dtype=np.float64).reshape(xb.shape[0])
        expected = np.asarray(golden["p__" + entry["name"]], dtype=np.float64)
        r["mismatches"] = int(np.count_nonzero(p != expected))
        r["max_abs_diff"] = float(np.max(np.abs(p - expected))) if p.size else 0.0
        r["ok"] = bool(np.array_equal(p, expected))
    except Exception as exc:
        r["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
print(json.dumps(out))
"""


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def ensure_ort(version: str, cache_dir: Path) -> Path:
    """Install onnxruntime==version into ``cache_dir/ort-<version>`` unless already there."""
    target = Path(cache_dir) / f"ort-{version}"
    marker = target / ".complete"
    if marker.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    pkgs = [f"onnxruntime=={version}"]
    if _vkey(version) < (1, 19):
        pkgs.append("numpy<2")  # built against numpy 1: shadow the venv's numpy 2
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--upgrade"]
    cmd += ["--target", str(target), *pkgs]
    print(f"installing {' '.join(pkgs)} into {target}", file=sys.stderr)
    subprocess.run(cmd, check=True)
    marker.write_text(version + "\n")
    return target


def run_version(version: str, target: Path, models_dir: Path, timeout: float = 1800) -> dict:
    """Run the worker under ``target`` (PYTHONPATH = that folder only) and parse its JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(target)
    env["PYTHONNOUSERSITE"] = "1"
    with tempfile.TemporaryDirectory() as cwd:  # keep the repository off sys.path
        proc = subprocess.run(
            [sys.executable, "-c", _WORKER, version, str(target), str(models_dir)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"version": version, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])


def record_versions(models_dir: Path, passed: dict[str, list[str]]) -> None:
    """Set ``verified_onnxruntime`` in each manifest entry; atomic rewrite, key order kept."""
    path = Path(models_dir) / "manifest.json"
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)
    for entry in manifest["models"]:
        entry["verified_onnxruntime"] = sorted(passed.get(entry["name"], []), key=_vkey)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_versions(
    versions: list[str], models_dir, *, cache_dir=DEFAULT_CACHE, record: bool = False
) -> tuple[int, list[dict]]:
    """Run the check for every version; print the table; return (exit code, rows)."""
    models_dir = Path(models_dir).resolve()
    with open(models_dir / "manifest.json", encoding="utf-8") as f:
        names = [e["name"] for e in json.load(f)["models"]]
    rows = []
    for version in versions:
        try:
            target = ensure_ort(version, Path(cache_dir))
            report = run_version(version, target, models_dir)
        except (subprocess.SubprocessError, OSError) as exc:
            report = {"version": version, "error": f"install/run failed: {exc}"}
        by_name = {m["name"]: m for m in report.get("models", [])}
        for name in names:
            m = by_name.get(name)
            if m is None:
                rows.append(
                    {
                        "version": version,
                        "name": name,
                        "ok": False,
                        "detail": report.get("error", "not run"),
                    }
                )
                continue
            if m["ok"]:
                detail = "bit-identical"
            elif m.get("error"):
                detail = m["error"]
            else:
                detail = f"{m['mismatches']} rows differ, max {m['max_abs_diff']:.3g}"
            rows.append({"version": version, "name": name, "ok": m["ok"], "detail": detail})

    w_name = max([len("model")] + [len(r["name"]) for r in rows])
    w_ver = max([len("onnxruntime")] + [len(r["version"]) for r in rows])
    print(f"{'onnxruntime':<{w_ver}}  {'model':<{w_name}}  result  detail")
    for r in rows:
        status = "OK" if r["ok"] else "FAIL"
        print(f"{r['version']:<{w_ver}}  {r['name']:<{w_name}}  {status:<6}  {r['detail']}")
    failed = [r for r in rows if not r["ok"]]
    print(f"{len(rows) - len(failed)} of {len(rows)} checks passed")

    if record:
        passed: dict[str, list[str]] = {}
        for r in rows:
            if r["ok"]:
                passed.setdefault(r["name"], []).append(r["version"])
        record_versions(models_dir, passed)
        print(f"recorded verified_onnxruntime in {models_dir / 'manifest.json'}")
    return (1 if failed else 0), rows


def cli(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "ort-compat":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m export ort-compat",
        description="Check every model of a manifest bit for bit under several onnxruntime "
        "versions, each installed into its own folder.",
    )
    parser.add_argument("--versions", nargs="+", required=True, help="onnxruntime versions")
    parser.add_argument("--models", default="models_onnx", help="folder with manifest.json")
    parser.add_argument(
        "--cache-dir", default=str(DEFAULT_CACHE), help=f"install folder (default {DEFAULT_CACHE})"
    )
    parser.add_argument(
        "--record", action="store_true", help="write verified_onnxruntime into the manifest"
    )
    args = parser.parse_args(argv)
    try:
        code, _ = check_versions(
            args.versions, args.models, cache_dir=args.cache_dir, record=args.record
        )
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(cli())
