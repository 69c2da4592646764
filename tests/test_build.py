"""End-to-end export at small scale: byte-identical rebuilds, manifest, golden set, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
pytest.importorskip("onnxruntime")

from export import __main__ as export_main  # noqa: E402
from export import build as bd  # noqa: E402
from export import train as tr  # noqa: E402
from lite_decluster.feature_spec import get_spec  # noqa: E402
from lite_decluster.model import load_model, verify_models  # noqa: E402

NAMES = [f"rf_td{f:03d}" for f in tr.TD_FRACTIONS]


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The small build run twice from empty caches into two folders."""
    outs = []
    for k in range(2):
        root = tmp_path_factory.mktemp(f"build{k}")
        bd.build("small", out=root / "models", work=root / "work", log=lambda *a: None)
        outs.append(root / "models")
    return outs


def test_rebuild_is_byte_identical(two_builds):
    a, b = two_builds
    for name in [*NAMES, "golden"]:
        fname = f"{name}.npz" if name == "golden" else f"{name}.onnx"
        assert (a / fname).read_bytes() == (b / fname).read_bytes(), fname


def test_manifest_schema_and_hashes(two_builds):
    out = two_builds[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["schema"] == 1
    assert manifest["default"] in NAMES and manifest["default_reason"]
    assert [e["name"] for e in manifest["models"]] == NAMES
    total = 0
    for e, frac in zip(manifest["models"], tr.TD_FRACTIONS, strict=True):
        data = (out / e["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == e["sha256"]
        assert e["bytes"] == len(data) <= tr.MAX_FILE_BYTES
        total += len(data)
        assert e["td_fraction"] == frac
        assert e["input_name"] == "X" and e["output_name"] == "p_aftershock"
        assert e["feature_spec"]["name"] == tr.SPEC and e["feature_spec"]["b"] is None
        assert e["n_trees"] > 0 and e["n_nodes"] > 0
        assert e["onnx"]["opsets"]["ai.onnx.ml"] == 5
        for key in ("accuracy", "background_precision", "background_recall"):
            assert set(e["metrics"][key]) >= {"median", "p32", "p68"}
        assert set(e["versions"]) == {"scikit-learn", "skl2onnx", "onnx", "numpy", "python"}
        assert e["parity"]["mismatches"] == 0
    assert total <= tr.MAX_TOTAL_BYTES
    g = manifest["golden"]
    assert hashlib.sha256((out / g["file"]).read_bytes()).hexdigest() == g["sha256"]
    # nested training subsets of whole catalogs
    sets = [e["training"]["catalog_indices"] for e in manifest["models"]]
    for small, big in zip(sets, sets[1:], strict=False):
        assert set(small) <= set(big)


def test_runtime_verifies_and_matches_golden(two_builds):
    out = two_builds[0]
    results = verify_models(out)
    assert all(r["sha_ok"] and r["golden_ok"] for r in results), results
    with np.load(out / "golden.npz") as z:
        X, p = z["X"], z["p__rf_td100"]
    n_features = len(get_spec(tr.SPEC).features)
    assert X.dtype == np.float32 and X.shape[1] == n_features and X.shape[0] >= 100
    np.testing.assert_array_equal(load_model(directory=out).predict_proba(X), p)


def test_cli_dispatch(capsys):
    assert export_main.main(["--help"]) == 0
    assert "build" in capsys.readouterr().out
    assert export_main.main(["nope"]) == 2


def test_training_weights_equalise_catalogs_and_classes():
    from export.dataset import CatalogData

    rng = np.random.default_rng(0)
    cats = []
    for n, share in ((50, 0.9), (400, 0.3), (120, 0.6)):
        X = rng.normal(size=(n, 5)).astype(np.float32)
        X[0] = np.nan  # the first event has no parent: not a training row
        y = (rng.random(n) < share).astype(np.int8)
        cats.append(CatalogData(X, X, X, np.zeros(n), y, {}))
    X, y = tr.stack(cats)
    w = tr.training_weights(cats)
    assert w.shape == y.shape and w.mean() == pytest.approx(1.0)
    start = 0
    for c in cats:
        n = int((~np.isnan(c.X_v1).any(axis=1)).sum())
        wc, yc = w[start : start + n], y[start : start + n]
        start += n
        assert wc.sum() == pytest.approx(w.sum() / len(cats))
        assert wc[yc == 1].sum() / wc.sum() == pytest.approx(tr.CLASS_PRIOR)
