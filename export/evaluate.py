"""``python -m export evaluate``: every method on every case, cached and resumable.

    python -m export evaluate [--scale full|small] [--cases NAME,...|GROUP] [--methods M,...]
                              [--jobs 1] [--work export/work] [--no-report]

Each (case, catalog, method) result is a small JSON file
``<work>/evaluate/<scale>/<case>/<index:03d>.<method>.json`` (metrics of
``export/metrics.py``, the Mc and b used, seconds); a result already on disk is skipped, so an
interrupted run continues where it stopped, and a catalog is only regenerated (deterministic,
``export/cases.py``) when one of its methods is missing. Each run appends its start, end and
counts to ``runs.jsonl`` there. After the run ``docs/evaluation.md`` is written from the
cache (full scale; the small scale writes ``<work>/evaluate/small/evaluation.md``).

Methods (default: all of :data:`DEFAULT_METHODS`), each through the public API a user calls,
``lite_decluster.decluster(df, model=..., method=..., mc=..., b=...)`` on a pandas DataFrame:

* ``rf_td010`` ... ``rf_td100``: the shipped forests;
* ``nnd``: ``method="nnd-threshold"``;
* ``reference``: the reference-style forest, converted to ONNX from
  ``<work>/full/forests/reference.pkl`` (written by ``python -m export build``); unavailable
  when that pickle does not exist;
* ``ceiling-mc`` / ``ceiling-all``: the ETAS ceiling (``export/ceiling.py``) with parents above
  the methods' Mc / every observed event (Poisson catalogs: p_background = 1 exactly);
* ``truth-parents`` (a diagnostic, not a method): where the scored aftershocks' true
  parents are: observed above the Mc, observed below it, or not in the catalog;
* any other name, e.g. ``etas``: ``decluster(df, method=NAME)`` once the runtime offers it, or
  ``module:function`` called as ``function(df, mc=..., b=...)`` returning decluster's columns.
  A method that cannot be imported or is unknown to the runtime is recorded as unavailable
  (with the reason) and reported as such.

Scoring: events with a label (above the Mc used), truth aftershock = generation > 0; the first
event (no earlier neighbour, no probability) counts as background with p_aftershock 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from export.cache_files import write_json
from export.cases import Case, EvalCatalog, cases, make_catalog
from export.metrics import catalog_metrics

WORK_DIR = Path(__file__).resolve().parent / "work"
DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"
FORESTS = ("rf_td010", "rf_td025", "rf_td050", "rf_td075", "rf_td100")
DIAGNOSTICS = ("truth-parents",)
DEFAULT_METHODS = (*FORESTS, "nnd", "reference", "ceiling-mc", "ceiling-all", *DIAGNOSTICS)


class Unavailable(Exception):
    """A method that cannot run here (the message says why)."""


def result_path(work: Path, scale: str, case: str, index: int, method: str) -> Path:
    """Cache file of one (case, catalog, method) result."""
    return Path(work) / "evaluate" / scale / case / f"{index:03d}.{method}.json"


def _score_output(out: Any, cat: EvalCatalog) -> tuple[dict[str, float], dict[str, Any]]:
    """Metrics of a decluster() result (input order) against the catalog's truth."""
    scored = out["label"].isin(["background", "aftershock"]).to_numpy(dtype=bool)
    pred = (out["label"] == "aftershock").fillna(False).to_numpy(dtype=bool)[scored]
    truth = cat.generation[scored] > 0
    p = out["p_aftershock"].to_numpy(dtype=float)[scored]
    prob = None if np.all(np.isnan(p)) else np.where(np.isnan(p), 0.0, p)
    run = out.attrs.get("run", {})
    return catalog_metrics(truth, pred, prob), {"mc": run.get("mc"), "b": run.get("b")}


def _done(path: Path, sha256: str | None = None) -> bool:
    """A cached result, except an 'unavailable' one (that method is tried again: its model
    or module may exist now) and, for a shipped forest, one scored with another model file
    (``sha256``: the manifest's hash of the model now)."""
    if not path.exists():
        return False
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False  # a damaged cache file is computed again
    if sha256 is not None and record.get("model_sha256") != sha256:
        return False
    return record.get("status") != "unavailable"


def model_hashes() -> dict[str, str]:
    """sha256 of every shipped forest in the manifest (empty when there is none)."""
    from lite_decluster.model import ModelError, check_model

    out = {}
    for name in FORESTS:
        try:
            out[name] = check_model(name)["sha256"]
        except (ModelError, OSError, ValueError):
            pass
    return out


_REFERENCE: dict[str, Any] = {}


def _reference_model(work: Path) -> Any:
    """The reference-style forest as a loaded, sha256-checked ``lite_decluster`` Model (one
    onnxruntime session per process: its 23 million nodes take a while to load)."""
    pkl = Path(work) / "full" / "forests" / "reference.pkl"
    onnx_path = Path(work) / "evaluate" / "reference" / "reference.onnx"
    if "model" in _REFERENCE:
        return _REFERENCE["model"]
    if not onnx_path.exists():
        if not pkl.exists():
            raise Unavailable(f"no reference-style forest: {pkl} is written by `python -m "
                              "export build --scale full` (about 10 minutes); not built here")
        from export.convert import cli as convert_cli

        onnx_path.parent.mkdir(parents=True, exist_ok=True)
        code = convert_cli([str(pkl), "--spec", "aden2021", "-o", str(onnx_path)])
        if code != 0 or not onnx_path.exists():
            raise Unavailable(f"converting {pkl} to ONNX failed (exit {code})")
    manifest = onnx_path.parent / "manifest.json"
    if not manifest.exists():
        import hashlib

        from lite_decluster.features import get_spec

        entry = {"name": "reference", "file": onnx_path.name,
                 "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
                 "feature_spec": get_spec("aden2021").to_dict()}
        manifest.write_text(json.dumps({"schema": 1, "default": "reference",
                                        "models": [entry]}, indent=2))
    from lite_decluster import load_model

    _REFERENCE["model"] = load_model(str(onnx_path), threads=1)
    return _REFERENCE["model"]


CEILINGS = ("ceiling-mc", "ceiling-all")


def ceilings(cat: EvalCatalog) -> dict[str, tuple[dict[str, float], dict[str, Any]]]:
    """Both ETAS ceilings of a catalog in one pass over the pairs: parents above the
    methods' Mc (``ceiling-mc``) and every observed event (``ceiling-all``)."""
    from export.ceiling import p_background
    from lite_decluster.magnitudes import estimate_mc

    m = cat.magnitude
    mc = float(estimate_mc(m)) if cat.mc == "auto" else float(cat.mc)
    targets = m >= mc - 1e-6
    truth = cat.generation[targets] > 0
    if cat.params is None:  # no triggering: lambda = mu u, p_background = 1 exactly
        p_bg = np.ones((2, int(targets.sum())))
    else:
        masks = [targets, np.ones(m.size, dtype=bool)]
        p_bg = p_background(cat.time, cat.x, cat.y, m, cat.params, targets, masks,
                            lon=cat.lon, lat=cat.lat)  # fmt: skip
    return {name: (catalog_metrics(truth, p <= 0.5, 1.0 - p), {"mc": mc, "b": None})
            for name, p in zip(CEILINGS, p_bg, strict=True)}  # fmt: skip


def parent_shares(cat: EvalCatalog) -> dict[str, float]:
    """Shares of the scored aftershocks (events above the methods' Mc, generation > 0) whose
    true parent is in the catalog above the Mc, in it below the Mc, or not in it."""
    from lite_decluster.magnitudes import estimate_mc

    m = cat.magnitude
    mc = float(estimate_mc(m)) if cat.mc == "auto" else float(cat.mc)
    scored = (m >= mc - 1e-6) & (cat.generation > 0)
    n = int(scored.sum())
    par = cat.parent[scored] if cat.parent is not None else np.full(n, -1)
    seen = par >= 0
    above = np.zeros(n, dtype=bool)
    above[seen] = m[par[seen]] >= mc - 1e-6
    div = max(n, 1)
    return {"aftershocks": float(n), "parent_above_mc": float(above.sum() / div),
            "parent_below_mc": float((seen & ~above).sum() / div),
            "parent_not_in_catalog": float((~seen).sum() / div), "mc": mc}  # fmt: skip


def run_method(method: str, cat: EvalCatalog, work: Path) -> tuple[dict[str, float], dict]:
    """Metrics and run info of one method on one catalog; raises Unavailable."""
    if method in CEILINGS:
        return ceilings(cat)[method]
    import lite_decluster as ld

    df = cat.to_frame()
    kw: dict[str, Any] = {"mc": cat.mc, "b": cat.b, "threads": 1}
    if method in FORESTS:
        out = ld.decluster(df, model=method, **kw)
    elif method == "nnd":
        out = ld.decluster(df, method="nnd-threshold", **kw)
    elif method == "reference":
        out = ld.decluster(df, model=_reference_model(work), **kw)
    elif ":" in method:
        mod, _, fn = method.partition(":")
        try:
            func: Callable[..., Any] = getattr(importlib.import_module(mod), fn)
        except (ImportError, AttributeError) as exc:
            raise Unavailable(f"cannot import {method}: {exc}") from None
        out = func(df, mc=cat.mc, b=cat.b)
    else:
        from lite_decluster.declustering import METHODS

        if method not in METHODS:
            raise Unavailable(f"the runtime has no method {method!r} (lite_decluster offers "
                              f"{', '.join(METHODS)})")  # fmt: skip
        out = ld.decluster(df, method=method, **kw)
    return _score_output(out, cat)


def evaluate_catalog(
    case: Case, index: int, scale: str, methods: Sequence[str], work: Path
) -> list[str]:
    """Run the missing methods of one catalog, caching each result; returns progress lines."""
    shas = model_hashes()
    todo = [m for m in methods
            if not _done(result_path(work, scale, case.name, index, m), shas.get(m))]
    if not todo:
        return []
    t0 = time.perf_counter()
    cat = make_catalog(case, index, scale)
    t_cat = time.perf_counter() - t0
    lines = []
    pending: dict[str, tuple[dict[str, float], dict[str, Any]]] = {}
    share = 0.0
    for method in todo:
        t1 = time.perf_counter()
        if method in CEILINGS and not pending:
            pending = ceilings(cat)  # both in one pass; the time is split between them
            share = (time.perf_counter() - t1) / 2
        record: dict[str, Any] = {"case": case.name, "index": index, "method": method,
                                  "n_events": len(cat), "seed": cat.meta.get("seed")}  # fmt: skip
        if method in shas:
            record["model_sha256"] = shas[method]
        if method in DIAGNOSTICS:
            record.update(status="diagnostic", diagnostics=parent_shares(cat))
            record["seconds"], record["seconds_catalog"] = time.perf_counter() - t1, t_cat
            write_json(result_path(work, scale, case.name, index, method), record, indent=1)
            continue
        try:
            metrics, info = pending[method] if method in pending else run_method(method, cat, work)
            record.update(status="ok", metrics=metrics, **info)
            msg = f"accuracy {metrics['accuracy']:.4f}, bg labels {metrics['bg_share_labels']:.3f}"
        except Unavailable as exc:
            record.update(status="unavailable", reason=str(exc))
            msg = f"unavailable: {exc}"
        record["seconds"] = share if method in pending else time.perf_counter() - t1
        record["seconds_catalog"] = t_cat
        write_json(result_path(work, scale, case.name, index, method), record, indent=1)
        lines.append(f"{case.name} {index + 1}/{case.n_catalogs} {method}: {msg} "
                     f"({record['seconds']:.1f} s)")  # fmt: skip
    return lines


def _job(args: tuple) -> list[str]:
    case_name, index, scale, methods, work = args
    case = next(c for c in cases(scale) if c.name == case_name)
    return evaluate_catalog(case, index, scale, methods, Path(work))


def select_cases(scale: str, spec: str | None) -> list[Case]:
    """Cases by comma-separated names or group names (None: all)."""
    all_cases = cases(scale)
    if not spec:
        return all_cases
    wanted = {s.strip() for s in spec.split(",") if s.strip()}
    chosen = [c for c in all_cases if c.name in wanted or c.group in wanted]
    unknown = wanted - {c.name for c in chosen} - {c.group for c in chosen}
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(sorted(unknown))}")
    return chosen


def run(
    scale: str = "full",
    methods: Sequence[str] = DEFAULT_METHODS,
    case_spec: str | None = None,
    jobs: int = 1,
    work: str | Path = WORK_DIR,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate every selected (case, catalog) missing a result; returns the run record."""
    work = Path(work)
    chosen = select_cases(scale, case_spec)
    tasks = [(c.name, i, scale, list(methods), str(work)) for c in chosen
             for i in range(c.n_catalogs)]  # fmt: skip
    start = time.time()
    log(f"evaluate[{scale}]: {len(chosen)} cases, {len(tasks)} catalogs, "
        f"methods {', '.join(methods)}, {jobs} process(es)")  # fmt: skip
    done = 0
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for lines in pool.map(_job, tasks):
                done += 1
                for line in lines:
                    log(f"[{done}/{len(tasks)} {time.time() - start:.0f}s] {line}")
    else:
        for task in tasks:
            done += 1
            for line in _job(task):
                log(f"[{done}/{len(tasks)} {time.time() - start:.0f}s] {line}")
    record = {"scale": scale, "start": start, "end": time.time(), "jobs": jobs,
              "cases": [c.name for c in chosen], "methods": list(methods),
              "catalogs": len(tasks), "argv": sys.argv[1:]}  # fmt: skip
    runs = work / "evaluate" / scale / "runs.jsonl"
    runs.parent.mkdir(parents=True, exist_ok=True)
    with open(runs, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record) + "\n")
    log(f"evaluate[{scale}]: done in {record['end'] - start:.0f} s")
    return record


def cli(argv: list[str] | None = None) -> int:
    """``python -m export evaluate ...``; returns an exit code."""
    parser = argparse.ArgumentParser(prog="python -m export evaluate",
                                     description="Every method on every case.")  # fmt: skip
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--cases", default=None, help="case or group names, comma-separated")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated methods (default: all)")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--work", default=str(WORK_DIR), help="cache folder (export/work)")
    parser.add_argument("--no-report", action="store_true", help="do not write the report")
    parser.add_argument("--report-only", action="store_true", help="only write the report")
    parser.add_argument("--docs", default=None, help="report folder (default: docs/ at full "
                        "scale, <work>/evaluate/small at small scale)")  # fmt: skip
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        if not args.report_only:
            run(args.scale, methods, args.cases, args.jobs, args.work)
        if not args.no_report:
            from export.evaluation_report import write_report

            docs = (
                Path(args.docs)
                if args.docs
                else (DOCS_DIR if args.scale == "full" else Path(args.work) / "evaluate" / "small")
            )
            path = write_report(args.scale, Path(args.work), docs, methods)
            print(f"wrote {path}")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
