"""The whole export chain, from synthetic catalogs to the shipped ONNX models.

    python -m export build [--scale full|small] [--out models_onnx] [--work export/work]

dataset -> hyperparameter grid -> five TD-fraction forests and the baselines -> test
evaluation (``export.train``) -> ONNX conversion (``forest_to_onnx``, deterministic) ->
``check_parity`` on every test feature row (bit-identical to ``reference_proba`` on float32
inputs) -> ``skl2onnx_crosscheck`` on a small forest -> size limits -> atomic writes of the
models -> ``golden.npz`` -> ``manifest.json``.

Every seed is fixed, so a second run with the same library versions writes byte-identical
ONNX files (and golden file). Intermediate results are cached in ``export/work/<scale>/``
and reused; ``build_timings.json`` there records the wall time of each step of the last run
(and the fit times of the cached forests), ``build_timings_empty_cache.json`` that of the last
run that started from an empty cache.

``--scale small`` (6 + 4 small catalogs, a few small trees) runs in seconds, for CI.
After a build, record the onnxruntime versions with
``python -m export ort-compat --versions 1.21.1 1.32.0 --models <out> --record``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from export import train as tr
from export.cache_files import write_json
from export.convert import (
    INPUT_NAME,
    IR_VERSION,
    ML_DOMAIN,
    OPSET_DEFAULT,
    OPSET_ML,
    OUTPUT_NAME,
    check_parity,
    forest_to_onnx,
    reference_proba,
    save_model_atomic,
    skl2onnx_crosscheck,
)
from export.dataset import WORK_DIR, catalog_seeds
from lite_decluster.features import get_spec

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "models_onnx"
GOLDEN_FILE = "golden.npz"
GOLDEN_RANDOM_ROWS = 256
GOLDEN_NEAR_HALF_ROWS = 64
GOLDEN_SPLIT_ROWS = 64
GOLDEN_SEED = 7
CROSSCHECK_TREES = 3
CROSSCHECK_ROWS = 20_000
DEFAULT_MODEL = "rf_td100"
DEFAULT_REASON = (
    "Trained on all the training catalogs, the most diverse data; median test accuracy "
    "{acc100:.3f} ({gap:+.3f} against the best fraction, {best_name} at {best:.3f}; rf_td010 "
    "{acc10:.3f}). Its cost is small: "
    "{mb100:.2f} MB and {nodes100:,} nodes (rf_td010: {mb10:.2f} MB), with the same tree count "
    "and leaf cap as the other fractions, so it predicts at nearly the same speed; the "
    "nearest-neighbour features, not the forest, dominate a run's time."
)


def manifest_spec() -> dict[str, Any]:
    """The forests' feature specification (``export.train.SPEC``) as stored in the manifest
    (b estimated at run time)."""
    d = get_spec(tr.SPEC).to_dict()
    d["b"] = None
    return d


def versions() -> dict[str, str]:
    import skl2onnx
    import sklearn

    return {
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """``np.savez``-compatible file with fixed zip timestamps (byte-reproducible); atomic."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            arr_buf = io.BytesIO()
            np.lib.format.write_array(arr_buf, np.ascontiguousarray(arrays[name]))
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, arr_buf.getvalue())
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def golden_rows(X_test: np.ndarray, forests: dict[str, Any], reference_name: str) -> np.ndarray:
    """A few hundred float32 rows [n, 5] from the test features.

    Random rows, the rows whose probability under ``reference_name`` is closest to 0.5, and
    rows with one feature moved onto a split threshold of that forest (the largest float32
    <= the float64 threshold, and the next float32 above it), where ``<=`` decides the branch.
    """
    rng = np.random.default_rng(GOLDEN_SEED)
    finite = np.flatnonzero(~np.isnan(X_test).any(axis=1))
    pick = rng.choice(finite, size=min(GOLDEN_RANDOM_ROWS, finite.size), replace=False)
    rows = [X_test[np.sort(pick)]]
    pool = rng.choice(finite, size=min(50_000, finite.size), replace=False)
    p = reference_proba(forests[reference_name], X_test[pool])
    near = pool[np.argsort(np.abs(p - 0.5), kind="stable")[:GOLDEN_NEAR_HALF_ROWS]]
    rows.append(X_test[np.sort(near)])
    tree = forests[reference_name].estimators_[0].tree_
    split_nodes = np.flatnonzero(tree.children_left >= 0)
    chosen = rng.choice(split_nodes, size=min(GOLDEN_SPLIT_ROWS // 2, split_nodes.size))
    base = X_test[rng.choice(finite, size=2 * chosen.size)].copy()
    for k, node in enumerate(chosen):
        f, thr = int(tree.feature[node]), float(tree.threshold[node])
        below = np.float32(thr)
        if float(below) > thr:
            below = np.nextafter(below, np.float32(-np.inf))
        base[2 * k, f] = below
        base[2 * k + 1, f] = np.nextafter(below, np.float32(np.inf))
    rows.append(base)
    return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)


def _metrics_entry(summary: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "test_catalogs": summary["accuracy"]["n"],
        "accuracy": summary["accuracy"],
        "background_precision": summary["bg_precision"],
        "background_recall": summary["bg_recall"],
        "background_fraction_error": summary["bg_fraction_error"],
        "definition": "per test catalog; median and 32-68 % band; background = positive "
        "class; error = predicted minus true background fraction; aftershock when p > 0.5",
    }


def build(
    scale: str = "full", out: str | Path = DEFAULT_OUT, work: str | Path = WORK_DIR, log=print
) -> dict[str, Any]:
    """Run the chain and write the models, golden set and manifest to ``out``."""
    t_start = time.perf_counter()
    out = Path(out)
    empty_cache = not tr.scale_dir(work, scale).exists()
    res = tr.run(scale, work, log=log)
    timings = dict(res["timings"])
    cache = tr.scale_dir(work, scale)

    spec = manifest_spec()
    names = list(spec["features"])
    X_test = np.concatenate([getattr(c, f"X_{tr.SPEC}") for c in res["test"]])
    forests = {info["name"]: info["forest"] for info in res["fractions"].values()}

    t0 = time.perf_counter()
    models: dict[str, bytes] = {}
    parity: dict[str, dict] = {}
    for frac, info in res["fractions"].items():
        name = info["name"]
        model = forest_to_onnx(
            info["forest"],
            feature_names=names,
            model_name=f"lite_decluster_{name}",
            doc=f"lite-decluster random forest, TD fraction {frac} %, {tr.SPEC} features "
            f"({', '.join(names)}); output p_aftershock = P(generation > 0)",
            metadata={"td_fraction": str(frac), "feature_spec": json.dumps(spec, sort_keys=True)},
        )
        data = model.SerializeToString()
        parity[name] = check_parity(info["forest"], data, X_test)
        models[name] = data
        log(f"  {name}: {len(data) / 1e6:.2f} MB, parity on {parity[name]['rows']:,} rows OK")
    sizes = {k: len(v) for k, v in models.items()}
    if max(sizes.values()) > tr.MAX_FILE_BYTES or sum(sizes.values()) > tr.MAX_TOTAL_BYTES:
        raise RuntimeError(f"size limits exceeded: {sizes}")
    timings["convert_and_parity"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    small = tr.first_trees(forests["rf_td010"], CROSSCHECK_TREES)
    finite = X_test[~np.isnan(X_test).any(axis=1)]
    crosscheck = skl2onnx_crosscheck(small, finite[:CROSSCHECK_ROWS])
    crosscheck["forest"] = f"first {CROSSCHECK_TREES} trees of rf_td010"
    timings["skl2onnx_crosscheck"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    old = _old_manifest(out)
    written = {}
    for name, data in models.items():
        written[name] = save_model_atomic(onnx.load_from_string(data), out / f"{name}.onnx")
        if written[name]["sha256"] != _sha256(data):
            raise RuntimeError(f"{name}: written file differs from the checked bytes")
    X_gold = golden_rows(X_test, forests, DEFAULT_MODEL)
    golden = {"X": X_gold}
    for name, forest in forests.items():
        golden[f"p__{name}"] = reference_proba(forest, X_gold)
    gdata = write_npz_deterministic(out / GOLDEN_FILE, golden)
    gsha = _sha256(gdata)

    config = res["config"]
    n_train = len(res["train"])
    train_seeds = catalog_seeds(config, "train", n_train)
    ev = res["evaluation"]["summary"]
    entries = []
    for frac, info in res["fractions"].items():
        name = info["name"]
        prev = old.get(name, {})
        same = prev.get("sha256") == written[name]["sha256"] and old.get("_golden") == gsha
        entries.append(
            {
                "name": name,
                "file": f"{name}.onnx",
                "sha256": written[name]["sha256"],
                "bytes": written[name]["bytes"],
                "td_fraction": frac,
                "n_trees": int(info["hyperparameters"]["n_estimators"]),
                "n_nodes": int(info["n_nodes"]),
                "feature_spec": spec,
                "input_name": INPUT_NAME,
                "output_name": OUTPUT_NAME,
                "training": {
                    "catalogs": len(info["catalogs"]),
                    "catalog_indices": info["catalogs"],
                    "rows": info["rows"],
                    "label": "aftershock = ETAS generation > 0",
                    "seeds": {
                        "master_seed": config["master_seed"],
                        "catalog_seeds": [train_seeds[i] for i in info["catalogs"]
                                          if i < n_train],
                        "diverse_catalogs": {
                            "source": "export/diverse.py, split 'train'",
                            "indices": [i - n_train for i in info["catalogs"] if i >= n_train],
                        },
                        "catalog_order": tr.ORDERING,
                        "forest_random_state": info["random_state"],
                    },
                    "parameter_ranges": {k: config[k] for k in ("draws", "constraints", "fixed")},
                    "scale": scale,
                    "hyperparameters": info["hyperparameters"],
                    "sample_weight": info["weighting"],
                    "hyperparameter_choice": res["grid"]["rule"],
                    "estimator": "sklearn.ensemble.RandomForestClassifier",
                },
                "metrics": _metrics_entry(ev[name]),
                "parity": parity[name],
                "versions": versions(),
                "onnx": {
                    "ir_version": IR_VERSION,
                    "opsets": {"": OPSET_DEFAULT, ML_DOMAIN: OPSET_ML},
                },
                # kept only while both the model and the golden set are unchanged
                "verified_onnxruntime": prev.get("verified_onnxruntime", []) if same else [],
            }
        )
    best_name = max(models, key=lambda n: ev[n]["accuracy"]["median"])
    manifest = {
        "schema": 1,
        "default": DEFAULT_MODEL,
        "default_reason": DEFAULT_REASON.format(
            acc100=ev[DEFAULT_MODEL]["accuracy"]["median"],
            acc10=ev["rf_td010"]["accuracy"]["median"],
            best=ev[best_name]["accuracy"]["median"],
            best_name=best_name,
            gap=ev[DEFAULT_MODEL]["accuracy"]["median"] - ev[best_name]["accuracy"]["median"],
            mb100=sizes[DEFAULT_MODEL] / 1e6,
            mb10=sizes["rf_td010"] / 1e6,
            nodes100=int(res["fractions"][100]["n_nodes"]),
        ),
        "models": entries,
        "golden": {"file": GOLDEN_FILE, "sha256": gsha, "rows": int(X_gold.shape[0])},
        "baselines": {
            "reference": {
                k: res["reference"][k]
                for k in ("features", "n_trees", "n_nodes", "pickle_bytes", "fit_seconds", "rows")
            }
            | {"metrics": _metrics_entry(ev["reference"])},
            "nnd": {"metrics": _metrics_entry(ev["nnd"])},
        },
        "skl2onnx_crosscheck": crosscheck,
    }
    write_json(out / "manifest.json", manifest)
    timings["write"] = time.perf_counter() - t0
    timings["total_this_run"] = time.perf_counter() - t_start
    cached = {
        "grid_fits": sum(
            {
                (p["min_weight_fraction_leaf"], p["max_leaf_nodes"]): p["fit_seconds_full_forest"]
                for p in res["grid"]["points"]
            }.values()
        ),
        "fraction_fits": sum(i["fit_seconds"] for i in res["fractions"].values()),
        "reference_fit": res["reference"]["fit_seconds"],
    }
    record = {"this_run": timings, "from_empty_cache": empty_cache, "fit_seconds": cached}
    write_json(cache / "build_timings.json", record)
    if empty_cache:  # the figure the docs quote: every step computed
        write_json(cache / "build_timings_empty_cache.json", record)
    log(
        f"build[{scale}]: {len(models)} models, {sum(sizes.values()) / 1e6:.2f} MB in {out}; "
        f"{timings['total_this_run']:.0f} s"
    )
    return {"manifest": manifest, "timings": timings}


def _old_manifest(out: Path) -> dict[str, Any]:
    """Previous entries by name (plus the golden sha) to carry verified versions over."""
    try:
        with open(out / "manifest.json", encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError):
        return {}
    prev = {e["name"]: e for e in m.get("models", []) if "name" in e}
    prev["_golden"] = m.get("golden", {}).get("sha256")
    return prev




def cli(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "build":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m export build", description="Build the shipped models end to end."
    )
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (models_onnx)")
    parser.add_argument("--work", default=str(WORK_DIR), help="cache folder (export/work)")
    args = parser.parse_args(argv)
    build(args.scale, args.out, args.work)
    return 0
