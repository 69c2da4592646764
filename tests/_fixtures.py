"""Fixtures shared by test_decluster, test_cli and test_plot.

``tiny_models``: a temporary models folder in the shipped layout (two small scikit-learn
forests trained on ETAS features, converted to ONNX, manifest.json and golden.npz), built once
per test session. ``shipped``: skips unless the real shipped models exist.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lite_decluster.features import get_spec
from lite_decluster.model import models_dir

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "lite_decluster" / "data" / "example_catalog.csv"
SHIPPED_MANIFEST = REPO / "models_onnx" / "manifest.json"
shipped = pytest.mark.skipif(
    not SHIPPED_MANIFEST.is_file() and not (models_dir() / "manifest.json").is_file(),
    reason="shipped models not built yet",
)

_CACHE: dict[str, Path] = {}


def _training_data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (float32 [n, 5], v1 spec), labels and a golden block from a small ETAS run."""
    from export.etas import ETASParams, simulate
    from lite_decluster.catalog import load_catalog
    from lite_decluster.pipeline import prepare_features

    params = ETASParams.from_file(REPO / "export" / "configs" / "italy.json")
    params = replace(params, duration=700.0, burn_in=3650.0)
    sim = simulate(params, seed).to_dataframe()
    table = load_catalog(sim[["time", "x", "y", "magnitude", "is_background"]]).table
    prep = prepare_features(table, mc=None, spec="v1", workers=1)
    ok = np.isfinite(prep.X).all(axis=1)
    truth = ~sim["is_background"].to_numpy()[prep.table["row"].to_numpy()]
    return prep.X[ok], truth[ok].astype(int), prep.X[:200]


def build_models_dir(folder: Path) -> Path:
    """Write two tiny forests (rf_td025 default, rf_td050) with manifest and golden file."""
    from sklearn.ensemble import RandomForestClassifier

    from export.convert import count_nodes, forest_to_onnx, save_model_atomic

    folder.mkdir(parents=True, exist_ok=True)
    X, y, Xg = _training_data(5)
    spec = get_spec("v1").to_dict()
    golden: dict[str, np.ndarray] = {"X": Xg}
    entries = []
    for td, depth in ((25, 6), (50, 8)):
        name = f"rf_td{td:03d}"
        forest = RandomForestClassifier(
            n_estimators=8, max_depth=depth, random_state=td, n_jobs=1
        ).fit(X, y)
        saved = save_model_atomic(
            forest_to_onnx(forest, feature_names=list(spec["features"]), model_name=name),
            folder / f"{name}.onnx",
        )
        golden[f"p__{name}"] = forest.predict_proba(Xg)[:, 1]
        entries.append({
            "name": name,
            "file": f"{name}.onnx",
            "sha256": saved["sha256"],
            "bytes": saved["bytes"],
            "td_fraction": td,
            "n_trees": 8,
            "n_nodes": count_nodes(forest),
            "feature_spec": spec,
            "input_name": "X",
            "output_name": "p_aftershock",
            "metrics": {"accuracy": {"median": float(forest.score(X, y)), "p32": 0.8,
                                     "p68": 0.95, "n": 1}},
        })
    write_manifest(folder, entries, golden, default="rf_td025", reason="the tiny test model")
    return folder


def write_manifest(
    folder: Path, entries: list[dict], golden: dict, *, default: str, reason: str = ""
) -> None:
    """Write golden.npz and a schema-1 manifest.json (as the export build does) in folder."""
    np.savez(folder / "golden.npz", **golden)
    manifest = {
        "schema": 1,
        "default": default,
        "default_reason": reason,
        "models": entries,
        "golden": {
            "file": "golden.npz",
            "sha256": hashlib.sha256((folder / "golden.npz").read_bytes()).hexdigest(),
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """Folder holding the tiny models; do not modify it (copy with ``models_copy``)."""
    pytest.importorskip("sklearn")
    if "dir" not in _CACHE:
        _CACHE["dir"] = build_models_dir(tmp_path_factory.mktemp("tiny_models"))
    return _CACHE["dir"]


@pytest.fixture
def models_copy(tiny_models, tmp_path) -> Path:
    """A private, modifiable copy of ``tiny_models``."""
    return Path(shutil.copytree(tiny_models, tmp_path / "models"))


@pytest.fixture
def example_csv(tmp_path) -> Path:
    """A private copy of the bundled example catalog (outputs go beside it)."""
    return Path(shutil.copy(EXAMPLE, tmp_path / "example_catalog.csv"))


def small_catalog(n: int = 1500) -> pd.DataFrame:
    """The first ``n`` rows of the bundled example, as read from the CSV."""
    return pd.read_csv(EXAMPLE, nrows=n, keep_default_na=False, na_values=[""])
