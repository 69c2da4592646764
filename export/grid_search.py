"""Step 1 of the build: the hyperparameter grid on held-out whole training catalogs (see
:mod:`export.train`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from export.cache_files import read_json, write_json
from export.convert import count_nodes, forest_to_onnx
from export.dataset import CatalogData
from export.forest_fit import FOREST_SEED, WEIGHTING, first_trees, make_forest, stack
from export.metrics import summarise
from export.scoring import evaluate_forest, label_agreement
from export.training_order import ORDERING, TD_FRACTIONS

__all__ = [
    "ACCURACY_TOLERANCE",
    "GRIDS",
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "SEED_AGREEMENT",
    "SEED_CHECK",
    "VALIDATION_FRACTION",
    "grid_search",
]

VALIDATION_FRACTION = 0.2
ACCURACY_TOLERANCE = 0.001
# A forest's labels should not hinge on its random seed: share of validation events labelled
# alike by two forests that differ only in random_state (FOREST_SEED and SEED_CHECK).
SEED_AGREEMENT = 0.99
SEED_CHECK = FOREST_SEED + 1
MAX_FILE_BYTES = 8_000_000
MAX_TOTAL_BYTES = 30_000_000
GRIDS = {
    # One point: the transfer study's (docs/transfer-study.md, validation catalogs only);
    # the grid still checks seed stability and size on the held-out training catalogs.
    "full": {
        "min_weight_fraction_leaf": [0.0005],
        "max_leaf_nodes": [4096],
        "n_estimators": [50],
        "reference_trees": 100,
    },
    "small": {
        "min_weight_fraction_leaf": [0.002, 0.01],
        "max_leaf_nodes": [64, 256],
        "n_estimators": [3, 5],
        "reference_trees": 10,
    },
}


def _grid_rule() -> str:
    return (
        f"feasible (worst case <= {MAX_FILE_BYTES / 1e6:g} MB per file and "
        f"<= {MAX_TOTAL_BYTES / 1e6:g} MB for {len(TD_FRACTIONS)} files), median validation "
        f"accuracy within {ACCURACY_TOLERANCE} of the best and labels seed-stable (at least "
        f"{100 * SEED_AGREEMENT:g} % of the validation events labelled alike by the forest "
        f"refitted with random_state {SEED_CHECK}), then the smallest ONNX file (if no point "
        "is seed-stable: the most stable one)"
    )


def grid_search(
    cats: Sequence[CatalogData], order: list[int], grid: dict, cache: Path, log=print
) -> dict[str, Any]:
    """Hyperparameter grid on held-out whole catalogs (see the module docstring)."""
    path = cache / "grid.json"
    if path.exists():
        cached = read_json(path)
        if (
            cached.get("weighting") == WEIGHTING
            and cached.get("order") == list(order)
            and cached.get("grid") == grid
            and cached.get("rule") == _grid_rule()
        ):
            return cached
    n_val = max(1, round(VALIDATION_FRACTION * len(order)))
    fit_idx, val_idx = order[:-n_val], order[-n_val:]
    X, y = stack([cats[i] for i in fit_idx])
    w = None  # unweighted rows (WEIGHTING)
    val = [cats[i] for i in val_idx]
    n_max = max(grid["n_estimators"])
    points = []
    for mwf in grid["min_weight_fraction_leaf"]:
        for mln in grid["max_leaf_nodes"]:
            t0 = time.perf_counter()
            hp = {"n_estimators": n_max, "min_weight_fraction_leaf": mwf, "max_leaf_nodes": mln}
            forest = make_forest(hp).fit(X, y, sample_weight=w)
            fit_s = time.perf_counter() - t0
            twin = make_forest(hp)
            twin.set_params(random_state=SEED_CHECK)
            twin.fit(X, y, sample_weight=w)
            for k in grid["n_estimators"]:
                sub = first_trees(forest, k)
                seed_agree = label_agreement(sub, first_trees(twin, k), val)
                n_bytes = forest_to_onnx(
                    sub, feature_names=[f"f{i}" for i in range(X.shape[1])]
                ).ByteSize()
                nodes = count_nodes(sub)
                worst_nodes = k * (2 * min(mln, int(1 / mwf)) - 1)
                worst_bytes = int(np.ceil(worst_nodes * n_bytes / nodes))
                acc = summarise([m["accuracy"] for m in evaluate_forest(sub, val)])
                points.append(
                    {
                        "n_estimators": k,
                        "min_weight_fraction_leaf": mwf,
                        "max_leaf_nodes": mln,
                        "val_accuracy": acc,
                        "seed_agreement": seed_agree,
                        "n_nodes": nodes,
                        "onnx_bytes": n_bytes,
                        "worst_case_bytes": worst_bytes,
                        "feasible": worst_bytes <= MAX_FILE_BYTES
                        and len(TD_FRACTIONS) * worst_bytes <= MAX_TOTAL_BYTES,
                        "fit_seconds_full_forest": fit_s,
                    }
                )
                log(
                    f"  grid mwf={mwf} mln={mln} trees={k}: acc {acc['median']:.4f} "
                    f"seed agreement {seed_agree:.4f} "
                    f"nodes {nodes:,} onnx {n_bytes / 1e6:.2f} MB (worst {worst_bytes / 1e6:.2f})"
                )
    feasible = [p for p in points if p["feasible"]]
    if not feasible:
        raise RuntimeError("no grid point satisfies the size limits")
    best = max(p["val_accuracy"]["median"] for p in feasible)
    near = [p for p in feasible if p["val_accuracy"]["median"] >= best - ACCURACY_TOLERANCE]
    stable = [p for p in near if p["seed_agreement"] >= SEED_AGREEMENT]
    if stable:
        chosen = min(stable, key=lambda p: (p["onnx_bytes"], -p["val_accuracy"]["median"]))
    else:
        chosen = max(near, key=lambda p: (p["seed_agreement"], -p["onnx_bytes"]))
    result = {
        "fit_catalogs": fit_idx,
        "validation_catalogs": val_idx,
        "fit_rows": int(X.shape[0]),
        "order": list(order),
        "ordering": ORDERING,
        "weighting": WEIGHTING,
        "rule": _grid_rule(),
        "best_feasible_accuracy": best,
        "points": points,
        "grid": grid,
        "chosen": {
            k: chosen[k] for k in ("n_estimators", "min_weight_fraction_leaf", "max_leaf_nodes")
        },
    }
    write_json(path, result)
    return result
