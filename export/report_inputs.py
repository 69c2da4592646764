"""What docs/models.md reports beyond the build's own caches: every shipped model on the real
SCSN catalog (cached per model sha256), their agreement on synthetic catalogs, which rule set
each test catalog's NND threshold, and the realised quantities of the training catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from export.cache_files import read_json, write_json
from export.train import NND_METHOD, SPEC, forest_labels, nnd_labels, scale_dir

SCSN = Path("/work/shared/data/scsn_socal_1932_2026_M2.5.csv")
SCSN_START = "1981-01-01"
SCSN_MC = 2.5


def _scsn_prepared(scsn_path: Path, spec: Any = "v1"):
    """SCSN above M 2.5 since 1981 through ``prepare_features`` (as a user's run), and the
    model inputs of the labelled events (those above Mc)."""
    import pandas as pd

    from lite_decluster.catalog import read_catalog
    from lite_decluster.pipeline import prepare_features

    table = read_catalog(scsn_path)
    table = table[table["time"] >= pd.Timestamp(SCSN_START, tz="UTC")].reset_index(drop=True)
    prep = prepare_features(table, mc=SCSN_MC, b="auto", spec=spec)
    return prep, (prep.X if prep.target is None else prep.X[prep.target])


def nnd_detail(work: Path, scale: str) -> dict:
    """Which rule set the NND threshold of each test catalog (cached per ``NND_METHOD``)."""
    from export.dataset import dataset_dir, load_catalog
    from lite_decluster.nnd import _equal_density_point, fit_two_gaussians, nnd_threshold

    path = scale_dir(work, scale) / "nnd_detail.json"
    if path.exists():
        old = read_json(path)
        if old.get("method") == NND_METHOD:
            return old
    rows = []
    for p in sorted(dataset_dir(work, scale).glob("test_*.npz")):
        x = load_catalog(p).log10_eta
        x = x[np.isfinite(x)]
        try:
            thr = nnd_threshold(x)
        except ValueError as exc:
            rows.append({"threshold": None, "rule": f"error: {exc}"})
            continue
        w, m, sd = fit_two_gaussians(x)
        rule = "equal density" if thr == _equal_density_point(w, m, sd) else "density minimum"
        rows.append({"threshold": thr, "rule": rule, "means": m.tolist(), "weights": w.tolist()})
    res = {"method": NND_METHOD, "rows": rows}
    write_json(path, res)
    return res


def scsn_results(models_dir: Path, scsn_path: Path, cache: Path) -> dict[str, Any]:
    """Labels of every manifest model on SCSN: agreement with rf_td100, background share.

    Rows without a parent (the first event) count as background, as in the evaluation.
    """
    from lite_decluster.model import load_manifest, load_model

    manifest = load_manifest(models_dir)
    shas = {e["name"]: e["sha256"] for e in manifest["models"]}
    path = cache / "scsn.json"
    if path.exists():
        old = read_json(path)
        if old.get("shas") == shas and old.get("source") == str(scsn_path):
            return old
    spec = manifest["models"][0]["feature_spec"]
    prep, X = _scsn_prepared(scsn_path, spec)
    ok = ~np.isnan(X).any(axis=1)
    labels = {}
    for name in shas:
        p = load_model(name, directory=models_dir).predict_proba(X[ok])
        lab = np.zeros(X.shape[0], dtype=bool)
        lab[ok] = p > 0.5
        labels[name] = lab
    ref = labels["rf_td100"]
    # The NND threshold on v1 features, as the runtime's nnd-threshold method.
    nnd_prep, _ = _scsn_prepared(scsn_path, "v1")
    nnd, thr = nnd_labels(nnd_prep.features["log10_eta"].to_numpy(dtype=float))
    res = {
        "source": str(scsn_path),
        "shas": shas,
        "events": int(X.shape[0]),
        "start": SCSN_START,
        "mc": SCSN_MC,
        "b": float(prep.b),
        "models": {
            name: {
                "agreement_with_rf_td100": float(np.mean(lab == ref)),
                "background_fraction": float(np.mean(~lab)),
            }
            for name, lab in labels.items()
        },
        "nnd": {
            "threshold": thr,
            "agreement_with_rf_td100": float(np.mean(nnd == ref)),
            "background_fraction": float(np.mean(~nnd)),
        },
    }
    write_json(path, res)
    return res


def synthetic_agreement(models_dir: Path, work: Path, scale: str) -> dict[str, float]:
    """Share of all test-catalog events on which each model's label equals rf_td100's."""
    from export.dataset import dataset_dir, load_catalog
    from lite_decluster.model import load_manifest, load_model

    paths = sorted(dataset_dir(work, scale).glob("test_*.npz"))
    X = np.concatenate([getattr(load_catalog(p), f"X_{SPEC}") for p in paths])
    names = [e["name"] for e in load_manifest(models_dir)["models"]]
    labels = {n: forest_labels(load_model(n, directory=models_dir).predict_proba, X) for n in names}
    return {n: float(np.mean(lab == labels["rf_td100"])) for n, lab in labels.items()}


def _catalog_stats(work: Path, scale: str) -> dict[str, list[float]]:
    """Realised per-catalog quantities (all splits) from the dataset metadata."""
    from export.dataset import dataset_dir, load_catalog

    out: dict[str, list[float]] = {}
    paths = [*dataset_dir(work, scale).glob("train_*.npz"),
             *dataset_dir(work, scale).glob("test_*.npz")]
    for p in sorted(paths):
        m = load_catalog(p).meta
        pr = m["params"]
        vals = {
            "A": pr["A"],
            "mu (events/day)": pr["mu"],
            "branching ratio": m["branching_ratio"],
            "events simulated": m["n_simulated"],
            "events above Mc": m["n"],
            "Mc (auto)": m["mc"],
            "b true": pr["b"],
            "b estimated - b true": m["b"] - pr["b"],
            "background fraction above Mc": m["background_fraction"],
            "draw attempts": m["attempts"],
        }
        for k, v in vals.items():
            out.setdefault(k, []).append(float(v))
    return out
