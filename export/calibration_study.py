"""Calibration study for the ``relctx-all-rows`` forest (``python -m export.calibration_study``).

Same cached features and validation catalogs as :mod:`export.transfer_study` (set
``STUDY_SUB=0.5``): choices are made on the validation catalogs only (``base[60:80]``, in
distribution, and the ``dval`` split of ``export/diverse.py``); every calibration map is fitted
on training data only, either on the forest's out-of-bag probabilities of its own training rows
(``calib="oob"``) or on a held-out part of the training catalogs (``calib="holdout"``: the
forest is trained on ``base[:50] + dtrain[:85]`` and the map fitted on ``base[50:60] +
dtrain[85:100]``).

``fit NAME...`` fits forests (one thread each) and caches their calibration-set and validation
probabilities in ``$CALIB_CACHE`` (default ``/tmp/calib_cache``); ``evaluate`` applies every map
to every cached forest and writes ``calibration.json`` next to ``results.json`` (and a table to
stdout). Maps:

* ``none``: the forest's probability;
* ``iso`` / ``iso-catw``: isotonic regression of y on p (rows weighted equally / each catalog
  weighted equally), reduced to a monotone table of at most 200 knots applied with ``np.interp``;
* ``platt``: logistic regression on logit(p); ``beta``: on (log p, -log(1 - p)) (Kull et al.);
* ``iso+em``: ``iso`` then the EM prior re-estimate (:func:`export.transfer_study.em_prior`)
  two-sided, from the calibration set's prior;
* ``iso+catlin`` / ``iso+cathist`` (``-base``: fitted on the base training catalogs only):
  ``iso``, then a per-catalog logit shift to the background share predicted by a catalog-level
  regression fitted on the calibration-set catalogs (least squares on the expected and labelled
  shares / ridge on the 10-bin histogram of the calibrated probabilities);
* ``oracle-prior`` / ``iso+oracle-prior``: Bayes prior shift to each catalog's true aftershock
  share (not deployable; diagnoses how much of the share error is a per-catalog prior shift);
* ``iso+oracle-shift``: a per-catalog logit shift that makes the expected share exact (not
  deployable; the ECE that remains is not due to the catalog's prior).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from export.metrics import catalog_metrics
from export.transfer_study import ALL, EXTRA, WORK, _stack, _weights, em_prior, load

CACHE = Path(os.environ.get("CALIB_CACHE", "/tmp/calib_cache"))
FEATURES = ALL[2:]
COLS = [(ALL + EXTRA).index(f) for f in FEATURES]
RF = dict(n_estimators=int(os.environ.get("CALIB_TREES", 50)), min_weight_fraction_leaf=0.0005,
          max_leaf_nodes=4096, random_state=2021, n_jobs=1)  # fmt: skip
MAX_KNOTS = 200
EPS = 1e-6

FITS: dict[str, dict[str, Any]] = {
    "rows": dict(weights="rows", calib="oob", rf={}),
    "rows-holdout": dict(weights="rows", calib="holdout", rf={}),
    "catw": dict(weights="catalog", calib="oob", rf={}),
    "rows-mwfl0.002": dict(weights="rows", calib="oob", rf=dict(min_weight_fraction_leaf=0.002)),
    "rows-mwfl0.0001": dict(weights="rows", calib="oob",
                            rf=dict(min_weight_fraction_leaf=0.0001)),
    "rows-mln1024": dict(weights="rows", calib="oob", rf=dict(max_leaf_nodes=1024)),
    "rows-msl300-mln2048": dict(weights="rows", calib="oob",
                                rf=dict(min_weight_fraction_leaf=0.0, min_samples_leaf=300,
                                        max_leaf_nodes=2048)),
    "rows-mfNone": dict(weights="rows", calib="oob", rf=dict(max_features=None)),
    "rows-mwfl0.0001-mln16384": dict(weights="rows", calib="oob",
                                     rf=dict(min_weight_fraction_leaf=0.0001,
                                             max_leaf_nodes=16384)),
}  # fmt: skip


def _catalog_ids(cats: list[dict[str, Any]]) -> np.ndarray:
    return np.concatenate([np.full(int(np.isfinite(c["X"]).all(axis=1).sum()), i)
                           for i, c in enumerate(cats)])  # fmt: skip


def _val_sets() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return load("base", 80)[60:], load("dval", 40)


def fit(name: str) -> None:
    from sklearn.ensemble import RandomForestClassifier

    f = FITS[name]
    base, dtrain = load("base", 60), load("dtrain", 100)
    if f["calib"] == "holdout":
        train, cal = base[:50] + dtrain[:85], base[50:] + dtrain[85:]
    else:
        train, cal = base + dtrain, None
    X, y = _stack(train, COLS)
    w = _weights(train, f["weights"])
    rf = RandomForestClassifier(**(RF | f["rf"] | {"oob_score": cal is None}))
    t0 = time.perf_counter()
    rf.fit(X, y, sample_weight=w)
    fit_s = time.perf_counter() - t0
    if cal is None:
        pc, yc, cc = rf.oob_decision_function_[:, 1], y, _catalog_ids(train)
    else:
        Xc, yc = _stack(cal, COLS)
        pc, cc = rf.predict_proba(Xc)[:, 1], _catalog_ids(cal)
    del X
    val_base, dval = _val_sets()
    pv = []
    for c in val_base + dval:
        ok = np.isfinite(c["X"]).all(axis=1)
        p = np.zeros(c["X"].shape[0])
        if ok.any():
            p[ok] = rf.predict_proba(c["X"][ok][:, COLS])[:, 1]
        pv.append(p)
    nodes = int(sum(t.tree_.node_count for t in rf.estimators_))
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(CACHE / f"{name}.npz", pc=pc.astype(np.float32), yc=yc.astype(np.int8),
                        cc=cc.astype(np.int32), pv=np.concatenate(pv).astype(np.float64),
                        lens=np.array([len(p) for p in pv]), fit_s=fit_s, nodes=nodes,
                        prior=float(np.average(y, weights=w)))  # fmt: skip
    print(f"{name}: fit {fit_s:.0f} s, {nodes} nodes, total {time.perf_counter() - t0:.0f} s",
          flush=True)


# ---------------------------------------------------------------------------------------------
# maps


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def iso_table(p: np.ndarray, y: np.ndarray, w: np.ndarray | None = None,
              max_knots: int = MAX_KNOTS) -> tuple[np.ndarray, np.ndarray, float]:
    """Isotonic map of y on p reduced to at most ``max_knots`` knots (x, y) for ``np.interp``;
    also the largest difference between the table and the full isotonic fit on ``p``."""
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(p, y, sample_weight=w)
    # half the knots on a uniform grid, half at quantiles of p (where the data are dense)
    k = max_knots // 2
    x = np.unique(np.concatenate([np.linspace(0, 1, k), np.quantile(p, np.linspace(0, 1, k))]))
    while x.size > max_knots:  # drop the closest interior pairs' points
        gaps = np.diff(x)
        x = np.delete(x, 1 + int(np.argmin(gaps[1:])))
    yk = np.maximum.accumulate(iso.predict(x))
    sub = p[:: max(1, p.size // 200_000)]
    err = float(np.max(np.abs(np.interp(sub, x, yk) - iso.predict(sub))))
    return x, yk, err


def platt(p: np.ndarray, y: np.ndarray, beta: bool = False):
    from sklearn.linear_model import LogisticRegression

    def feats(q):
        if beta:
            q = np.clip(q, EPS, 1 - EPS)
            return np.column_stack([np.log(q), -np.log(1 - q)])
        return _logit(q)[:, None]

    lr = LogisticRegression(C=1e6, max_iter=1000).fit(feats(p), y)
    coef = [float(v) for v in lr.coef_[0]] + [float(lr.intercept_[0])]
    return (lambda q: lr.predict_proba(feats(q))[:, 1]), coef


def prior_shift(p: np.ndarray, prior_from: float, prior_to: float) -> np.ndarray:
    a = prior_to / prior_from
    c = (1 - prior_to) / (1 - prior_from)
    return a * p / (a * p + c * (1 - p) + 1e-300)


def exact_shift(p: np.ndarray, target: float) -> np.ndarray:
    """Shift logit(p) by the constant that makes mean(p) == target (bisection)."""
    lg = _logit(p)
    lo, hi = -30.0, 30.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if np.mean(1 / (1 + np.exp(-(lg + mid)))) < target:
            lo = mid
        else:
            hi = mid
    return 1 / (1 + np.exp(-(lg + 0.5 * (lo + hi))))


# ---------------------------------------------------------------------------------------------
# scoring


def _score(p: np.ndarray, cat: dict[str, Any]) -> dict[str, Any]:
    y = cat["y"].astype(bool)
    met = catalog_metrics(y, p > 0.5, p)
    m = cat["meta"]
    met |= {"kind": m.get("kind"), "effect": m.get("effect"), "n": m["n"]}
    if cat["ceiling"].size:
        pc = 1.0 - cat["ceiling"]
        cm = catalog_metrics(y, pc > 0.5, pc)
        met["ceiling_accuracy"] = cm["accuracy"]
        met["ceiling_expected_error"] = cm["bg_share_expected"] - cm["bg_share_true"]
    return met


def _summary(rb: list[dict[str, Any]], rd: list[dict[str, Any]]) -> dict[str, Any]:
    se = np.array([r["bg_expected_error"] for r in rb])
    pois = [r["bg_share_labels"] for r in rd if r["kind"] == "poisson"]
    et = [r for r in rd if r["kind"] == "etas"]
    gap = np.array([r["accuracy"] - r["ceiling_accuracy"] for r in et])
    experr = [abs(r["bg_expected_error"]) for r in et]
    tb = np.array([r["bg_share_true"] for r in rb])
    eb = np.array([r["bg_share_expected"] for r in rb])
    return {
        "base_val_median_accuracy": float(np.median([r["accuracy"] for r in rb])),
        "base_val_median_abs_share_error": float(np.median(np.abs(se))),
        "base_val_median_signed_share_error": float(np.median(se)),
        "base_val_mean_signed_share_error": float(np.mean(se)),
        "base_val_share_positive": float(np.mean(se > 0)),
        "base_val_slope_expected_vs_true": float(np.polyfit(tb, eb, 1)[0]),
        "base_val_median_true_share": float(np.median(tb)),
        "base_val_median_ece": float(np.median([r["ece"] for r in rb])),
        "dval_etas_median_ece": float(np.median([r["ece"] for r in et])),
        "poisson_min_bg": float(min(pois)),
        "poisson_median_bg": float(np.median(pois)),
        "poisson_median_expected_bg": float(np.median(
            [r["bg_share_expected"] for r in rd if r["kind"] == "poisson"])),
        "etas_median_gap": float(np.median(gap)),
        "etas_worst_gap": float(gap.min()),
        "etas_share_below_minus_0.03": float(np.mean(gap < -0.03)),
        "etas_median_abs_expected_error": float(np.median(experr)),
        "etas_worst_abs_expected_error": float(max(experr)),
        "etas_median_signed_expected_error": float(np.median(
            [r["bg_expected_error"] for r in et])),
    }  # fmt: skip


def _diag(pc: np.ndarray, yc: np.ndarray, cc: np.ndarray, n_base: int) -> dict[str, Any]:
    """Signed expected-share error (mean(1 - p) - true share) per calibration-set catalog."""
    ok = np.isfinite(pc)
    out = {}
    for part, sel in (("base", cc < n_base), ("dtrain", cc >= n_base)):
        errs = [float(np.mean(yc[ok & (cc == i)]) - np.mean(pc[ok & (cc == i)]))
                for i in np.unique(cc[sel])]  # fmt: skip
        true = [float(1 - np.mean(yc[ok & (cc == i)])) for i in np.unique(cc[sel])]
        out[part] = {"median_signed_share_error": float(np.median(errs)),
                     "median_true_share": float(np.median(true)),
                     "median_abs_share_error": float(np.median(np.abs(errs))),
                     "rows_signed_share_error": float(np.mean(yc[ok & sel])
                                                      - np.mean(pc[ok & sel])),
                     "catalogs": len(errs)}  # fmt: skip
    return out


def _cat_stats(q: np.ndarray) -> np.ndarray:
    return np.array([1.0, float(np.mean(1 - q)), float(np.mean(q <= 0.5))])


def cat_linear(q: np.ndarray, y: np.ndarray, cc: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Least squares of each catalog's true background share on (1, expected share, labelled
    share) of the calibrated probabilities ``q``; catalogs where ``sel``."""
    ids = np.unique(cc[sel])
    A = np.array([_cat_stats(q[cc == i]) for i in ids])
    t = np.array([1 - np.mean(y[cc == i]) for i in ids])
    return np.linalg.lstsq(A, t, rcond=None)[0]


def _hist_stats(q: np.ndarray) -> np.ndarray:
    return np.concatenate([[1.0], np.histogram(q, bins=10, range=(0, 1))[0] / max(q.size, 1)])


def cat_ridge(q: np.ndarray, y: np.ndarray, cc: np.ndarray, sel: np.ndarray,
              lam: float = 1e-3) -> np.ndarray:
    """Ridge regression of each catalog's true background share on the 10-bin histogram of its
    calibrated probabilities (plus an unpenalised intercept); catalogs where ``sel``."""
    ids = np.unique(cc[sel])
    A = np.array([_hist_stats(q[cc == i]) for i in ids])
    t = np.array([1 - np.mean(y[cc == i]) for i in ids])
    pen = lam * np.eye(A.shape[1])
    pen[0, 0] = 0.0
    return np.linalg.solve(A.T @ A + pen, A.T @ t)


def _maps(pc: np.ndarray, yc: np.ndarray, cc: np.ndarray, prior: float, n_base: int):
    """Every map as name -> (function of (p, true aftershock share), description)."""
    wcat = 1.0 / np.bincount(cc)[cc]
    ok = np.isfinite(pc)
    isb = cc[ok] < n_base
    pc, yc, wcat = pc[ok], yc[ok], wcat[ok]
    xb, yb, errb = iso_table(pc[isb], yc[isb])
    prior_c = float(yc.mean())
    xi, yi, erri = iso_table(pc, yc)
    xw, yw, errw = iso_table(pc, yc, wcat)
    f_platt, c_platt = platt(pc, yc)
    f_beta, c_beta = platt(pc, yc, beta=True)

    def iso(p):
        return np.interp(p, xi, yi)

    qc, cco = iso(pc), cc[ok]
    beta_all = cat_linear(qc, yc, cco, np.ones(qc.size, bool))
    beta_base = cat_linear(qc, yc, cco, isb)

    hist_all = cat_ridge(qc, yc, cco, np.ones(qc.size, bool))
    hist_base = cat_ridge(qc, yc, cco, isb)

    def cathist(p, beta):
        q = iso(p)
        share = float(np.clip(_hist_stats(q) @ beta, 0.001, 0.999))
        return exact_shift(q, 1 - share)

    def catlin(p, beta):
        q = iso(p)
        share = float(np.clip(_cat_stats(q) @ beta, 0.001, 0.999))
        return exact_shift(q, 1 - share)

    maps = {
        "none": (lambda p, t: p, {}),
        "iso": (lambda p, t: iso(p), {"knots_x": xi.tolist(), "knots_y": yi.tolist(),
                                      "table_max_abs_diff": erri}),
        "iso-catw": (lambda p, t: np.interp(p, xw, yw),
                     {"knots_x": xw.tolist(), "knots_y": yw.tolist(),
                      "table_max_abs_diff": errw}),
        "iso-base": (lambda p, t: np.interp(p, xb, yb),
                     {"knots_x": xb.tolist(), "knots_y": yb.tolist(),
                      "table_max_abs_diff": errb, "fitted_on": "base catalogs only"}),
        "platt": (lambda p, t: f_platt(p), {"coef_logit_intercept": c_platt}),
        "beta": (lambda p, t: f_beta(p), {"coef_a_b_intercept": c_beta}),
        "iso+em": (lambda p, t: em_prior(iso(p), prior_c), {"prior": prior_c}),
        "iso+catlin": (lambda p, t: catlin(p, beta_all),
                       {"coef_1_expected_labelled": beta_all.tolist()}),
        "iso+catlin-base": (lambda p, t: catlin(p, beta_base),
                            {"coef_1_expected_labelled": beta_base.tolist()}),
        "iso+cathist": (lambda p, t: cathist(p, hist_all), {"coef": hist_all.tolist()}),
        "iso+cathist-base": (lambda p, t: cathist(p, hist_base), {"coef": hist_base.tolist()}),
        "oracle-prior": (lambda p, t: prior_shift(p, prior, t), {"prior": prior}),
        "iso+oracle-prior": (lambda p, t: prior_shift(iso(p), prior_c, t), {"prior": prior_c}),
        "iso+oracle-shift": (lambda p, t: exact_shift(iso(p), t), {}),
    }  # fmt: skip
    return maps


def evaluate(names: list[str]) -> int:
    val_base, dval = _val_sets()
    cats = val_base + dval
    names = names or [n for n in FITS if (CACHE / f"{n}.npz").exists()]
    path = Path(os.environ.get("CALIB_OUT", WORK / "calibration.json"))
    results = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        z = np.load(CACHE / f"{name}.npz")
        pv = np.split(z["pv"], np.cumsum(z["lens"])[:-1])
        n_base = 10 if FITS[name]["calib"] == "holdout" else 60
        args = (z["pc"].astype(np.float64), z["yc"], z["cc"])
        maps = _maps(*args, float(z["prior"]), n_base)
        diag = _diag(*args, n_base)
        print(f"{name}: calibration-set (expected bg share - true), uncalibrated: {diag}")
        for mname, (fn, info) in maps.items():
            rows = []
            for p, c in zip(pv, cats, strict=True):
                ok = np.isfinite(c["X"]).all(axis=1)
                q = p.copy()
                if ok.any():
                    q[ok] = fn(p[ok], float(c["y"][ok].mean()))
                rows.append(_score(q, c))
            rb, rd = rows[: len(val_base)], rows[len(val_base):]
            key = f"{name}+{mname}"
            r = _summary(rb, rd) | {"fit": FITS[name], "fit_seconds": float(z["fit_s"]),
                                    "nodes": int(z["nodes"]), "map": info,
                                    "calibration_set_diagnosis": diag,
                                    "per_catalog_base_val": rb, "per_catalog_dval": rd}  # fmt: skip
            results[key] = r
            print(f"{key:34s} acc {r['base_val_median_accuracy']:.4f} "
                  f"share {r['base_val_median_abs_share_error']:.3f} "
                  f"(signed {r['base_val_median_signed_share_error']:+.3f}, slope "
                  f"{r['base_val_slope_expected_vs_true']:.2f}) ece {r['base_val_median_ece']:.3f}"
                  f" | pois min {r['poisson_min_bg']:.3f} | etas gap {r['etas_median_gap']:+.3f}"
                  f" worst {r['etas_worst_gap']:+.3f} "
                  f"experr {r['etas_median_abs_expected_error']:.3f}"
                  f" ece {r['dval_etas_median_ece']:.3f} | nodes {r['nodes']}", flush=True)
        path.write_text(json.dumps(results, indent=1))
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "fit":
        for name in argv[1:]:
            fit(name)
        return 0
    if argv and argv[0] == "evaluate":
        return evaluate(argv[1:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
