"""Design study for the transferable forest (``python -m export.transfer_study``).

Chooses the ``v2`` design on **validation catalogs only**: held-out catalogs of the training
split of ``export/dataset.py`` (in distribution) and the validation split of
``export/diverse.py`` (densities, scales, observation effects, Poisson). The test catalogs and
the evaluation cases are never read here. Every variant's figures go to
``export/work/study/results.json`` and, as a table, to stdout; docs/models.md quotes them.

Features of every catalog are computed once with a superset specification (v1's absolute and
v2's relative and context columns from one search) and cached per catalog.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from export.dataset import catalog_seeds, load_config, simulate_catalog
from export.diverse import diverse_catalog
from export.metrics import catalog_metrics
from lite_decluster.feature_spec import FeatureSpec, get_spec
from lite_decluster.pipeline import prepare_features

SUB = float(os.environ["STUDY_SUB"]) if os.environ.get("STUDY_SUB") else None
WORK = Path(__file__).resolve().parent / "work" / ("study" if SUB is None else f"study_sub{SUB:g}")
ALL = ("log10_T", "log10_R", "dm", "n_siblings", "n_offspring", "rel_log10_T", "rel_log10_R",
       "ctx_clustered", "ctx_sparse")  # fmt: skip
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
EXTRA = tuple(f"ctxq{int(q * 100)}" for q in QUANTILES)  # quantiles of rel log10 eta
SUPER = replace(get_spec("v2"), name="study", features=ALL)


def _ceiling(df, gen, meta, mc: float) -> np.ndarray | None:
    params = meta.get("params_object")
    if params is None:
        return None
    from export.ceiling import p_background

    m = df["magnitude"].to_numpy()
    targets = m >= mc - 1e-6
    (p,) = p_background(df["time"].to_numpy(), df["x"].to_numpy(), df["y"].to_numpy(), m, params,
                        targets, [targets])  # fmt: skip
    return p


def _featurize(job: tuple[str, int]) -> str:
    group, index = job
    path = WORK / f"{group}_{index:03d}.npz"
    if path.exists():
        return str(path)
    t0 = time.perf_counter()
    if group == "base":
        config = load_config()
        seed = catalog_seeds(config, "train", index + 1)[index]
        df, meta = simulate_catalog(seed, config)
        gen = df["generation"].to_numpy()
        df = df[["time", "x", "y", "magnitude", "depth"]]
        mc: Any = "auto"
        meta = {"kind": "base", "index": index}
        want_ceiling = False
    else:
        df, gen, meta = diverse_catalog("validation" if group == "dval" else "train", index)
        mc = meta["mc_cut"] if meta.get("mc_cut") else "auto"
        want_ceiling = group == "dval"
    prep = prepare_features(df, mc=mc, b="auto", spec=SUPER, workers=1)
    keep = df["magnitude"].to_numpy() >= prep.mc - 1e-6
    if SUB is not None:  # parents from every event above Mc - SUB, children above Mc
        from lite_decluster.features import compute_features, feature_matrix

        mag = df["magnitude"].to_numpy()
        pool = mag >= prep.mc - SUB - 1e-6
        feats = compute_features(df[pool].reset_index(drop=True), spec=replace(SUPER, b=prep.b),
                                 workers=1)  # fmt: skip
        X_all = feature_matrix(feats, SUPER)
        prep.X = X_all[mag[pool] >= prep.mc - 1e-6]
    y = (gen[keep] > 0).astype(np.int8)
    ceil = _ceiling(df, gen, meta, prep.mc) if want_ceiling else None
    meta = {k: v for k, v in meta.items() if k != "params_object"}
    meta.update(mc=float(prep.mc), n=int(keep.sum()), seconds=time.perf_counter() - t0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, X=prep.X, y=y, meta=np.array(json.dumps(meta)),
                        ceiling=ceil if ceil is not None else np.zeros(0))  # fmt: skip
    tmp.replace(path)
    return str(path)


def load(group: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        with np.load(WORK / f"{group}_{i:03d}.npz") as z:
            X = z["X"]
            rel_eta = X[:, 5] + X[:, 6]
            ok = np.isfinite(rel_eta)
            qs = np.quantile(rel_eta[ok], QUANTILES) if ok.any() else np.zeros(len(QUANTILES))
            X = np.column_stack([X, np.tile(qs.astype(np.float32), (X.shape[0], 1))])
            out.append({"X": X, "y": z["y"], "meta": json.loads(str(z["meta"])),
                        "ceiling": z["ceiling"]})  # fmt: skip
    return out


def em_prior(p: np.ndarray, prior_train: float, iters: int = 100) -> np.ndarray:
    """Saerens et al. (2002): re-estimate the aftershock prior on an unlabelled catalog and
    return the adjusted p_aftershock."""
    pi = prior_train
    q = p
    for _ in range(iters):
        a = pi / prior_train
        c = (1 - pi) / (1 - prior_train)
        q = a * p / (a * p + c * (1 - p) + 1e-300)
        new = float(np.mean(q))
        if abs(new - pi) < 1e-6:
            break
        pi = new
    return q


VARIANTS: dict[str, dict[str, Any]] = {
    "v1-base-classw": dict(features=ALL[:5], data="base", weights="class"),
    "v1-all-catw": dict(features=ALL[:5], data="all", weights="catalog"),
    "rel-all-catw": dict(features=ALL[2:7], data="all", weights="catalog"),
    "relctx-all-catw": dict(features=ALL[2:], data="all", weights="catalog"),
    "relctx-all-rows": dict(features=ALL[2:], data="all", weights="rows"),
    "relctx-all-classw": dict(features=ALL[2:], data="all", weights="class"),
    "absrelctx-all-catw": dict(features=ALL, data="all", weights="catalog"),
    "relctx-base-catw": dict(features=ALL[2:], data="base", weights="catalog"),
    "relctxq-all-rows": dict(features=ALL[2:] + EXTRA, data="all", weights="rows"),
    "relctxq-all-catw": dict(features=ALL[2:] + EXTRA, data="all", weights="catalog"),
    "absrelctxq-all-rows": dict(features=ALL + EXTRA, data="all", weights="rows"),
}


def _weights(cats: list[dict[str, Any]], kind: str) -> np.ndarray:
    parts = []
    for c in cats:
        y = c["y"][np.isfinite(c["X"]).all(axis=1)]
        n = y.size
        if kind == "rows":
            w = np.ones(n)
        elif kind == "catalog":
            w = np.full(n, 1.0 / n)
        else:  # class: half the catalog's weight to each class present
            k1 = int(y.sum())
            k0 = n - k1
            w = np.where(y == 1, 0.5 / max(k1, 1), 0.5 / max(k0, 1))
            if k1 == 0 or k0 == 0:
                w = np.full(n, 1.0 / n)
        parts.append(w)
    w = np.concatenate(parts)
    return w / w.mean()


def _stack(cats: list[dict[str, Any]], cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
    X = np.concatenate([c["X"] for c in cats])
    y = np.concatenate([c["y"] for c in cats])
    ok = np.isfinite(X).all(axis=1)
    return X[ok][:, cols], y[ok]


def score(proba, cat: dict[str, Any], cols: list[int], em: str = "none",
          prior: float = 0.5) -> dict[str, float]:
    X = cat["X"]
    ok = np.isfinite(X).all(axis=1)
    p = np.zeros(X.shape[0])
    if ok.any():
        p[ok] = proba(X[ok][:, cols])
    if em != "none":
        q = em_prior(p[ok], prior)
        if em == "two-sided" or q.mean() < p[ok].mean():
            p[ok] = q
    y = cat["y"].astype(bool)
    met = catalog_metrics(y, p > 0.5, p)
    if cat["ceiling"].size:
        pc = 1.0 - cat["ceiling"]
        cm = catalog_metrics(y, pc > 0.5, pc)
        met["ceiling_accuracy"] = cm["accuracy"]
        met["ceiling_expected_error"] = cm["bg_share_expected"] - cm["bg_share_true"]
    return met


def analyse(argv: list[str]) -> int:
    from sklearn.ensemble import RandomForestClassifier

    base = load("base", 80)
    dtrain = load("dtrain", 100)
    dval = load("dval", 40)
    val_base = base[60:]
    train_sets = {"base": base[:60], "all": base[:60] + dtrain}
    names = argv or list(VARIANTS)
    results = {}
    path = WORK / "results.json"
    if path.exists():
        results = json.loads(path.read_text())
    for name in names:
        v = VARIANTS[name]
        cols = [(ALL + EXTRA).index(f) for f in v["features"]]
        cats = train_sets[v["data"]]
        X, y = _stack(cats, cols)
        w = _weights(cats, v["weights"])
        t0 = time.perf_counter()
        rf = RandomForestClassifier(n_estimators=50, min_weight_fraction_leaf=0.0005,
                                    max_leaf_nodes=4096, n_jobs=2, random_state=2021)
        rf.fit(X, y, sample_weight=w)
        fit_s = time.perf_counter() - t0
        prior = float(np.average(y, weights=w))
        def proba(A, rf=rf):
            return rf.predict_proba(A)[:, 1]

        for em in ("none", "one-sided"):
            rb = [score(proba, c, cols, em, prior) for c in val_base]
            rd = [score(proba, c, cols, em, prior) | {"kind": c["meta"]["kind"],
                  "effect": c["meta"].get("effect"), "L": c["meta"].get("L"),
                  "boost": c["meta"].get("boost"), "mc_cut": c["meta"].get("mc_cut"),
                  "n": c["meta"]["n"]} for c in dval]  # fmt: skip
            pois = [r["bg_share_labels"] for r in rd if r["kind"] == "poisson"]
            et = [r for r in rd if r["kind"] == "etas"]
            gap = [r["accuracy"] - r["ceiling_accuracy"] for r in et]
            experr = [abs(r["bg_share_expected"] - r["bg_share_true"]) for r in et]
            key = f"{name}+em:{em}"
            results[key] = {
                "base_val_median_accuracy": float(np.median([r["accuracy"] for r in rb])),
                "base_val_median_abs_share_error": float(np.median(
                    [abs(r["bg_share_expected"] - r["bg_share_true"]) for r in rb])),
                "base_val_median_ece": float(np.median([r["ece"] for r in rb])),
                "poisson_min_bg": float(min(pois)) if pois else None,
                "poisson_median_bg": float(np.median(pois)) if pois else None,
                "etas_median_gap": float(np.median(gap)),
                "etas_worst_gap": float(min(gap)),
                "etas_share_below_minus_0.03": float(np.mean(np.array(gap) < -0.03)),
                "etas_median_abs_expected_error": float(np.median(experr)),
                "etas_worst_abs_expected_error": float(max(experr)),
                "fit_seconds": fit_s, "prior": prior, "per_catalog": rd,
            }  # fmt: skip
            r = results[key]
            print(f"{key:40s} base acc {r['base_val_median_accuracy']:.4f} "
                  f"shareerr {r['base_val_median_abs_share_error']:.3f} "
                  f"ece {r['base_val_median_ece']:.3f} | poisson min {r['poisson_min_bg']:.3f} "
                  f"med {r['poisson_median_bg']:.3f} | etas gap med {r['etas_median_gap']:+.3f} "
                  f"worst {r['etas_worst_gap']:+.3f} (<-0.03: "
                  f"{r['etas_share_below_minus_0.03']:.2f}) experr med "
                  f"{r['etas_median_abs_expected_error']:.3f} worst "
                  f"{r['etas_worst_abs_expected_error']:.3f}", flush=True)
        path.write_text(json.dumps(results, indent=1))
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "analyse":
        return analyse(argv[1:])
    n_base, n_dtrain, n_dval = 80, 100, 40
    jobs = [("base", i) for i in range(n_base)] + [("dtrain", i) for i in range(n_dtrain)]
    jobs += [("dval", i) for i in range(n_dval)]
    todo = [j for j in jobs if not (WORK / f"{j[0]}_{j[1]:03d}.npz").exists()]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        for k, done in enumerate(pool.map(_featurize, todo), 1):
            if k % 10 == 0:
                print(f"{k}/{len(todo)} {Path(done).name} {time.perf_counter() - t0:.0f}s",
                      flush=True)
    print(f"features done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = ["ALL", "SUPER", "em_prior", "load", "catalog_metrics", "FeatureSpec"]
