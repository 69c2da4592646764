"""Labelled synthetic ETAS catalogs and their features: the training and test data of the models.

    python -m export dataset [--scale full|small] [--work export/work] [--jobs 2]

As in Aden-Antoniow et al. (2021): 100 training and 100 test catalogs, each simulated with its
own ETAS parameters. The parameters are drawn per catalog from the ranges of
``export/params.json`` (units: days, km, magnitude units):

================  =====================  =================================================
parameter         range                  law
================  =====================  =================================================
branching ratio   0.30 - 0.95            uniform; sets A = n / E[exp(alpha (m - Mc))]
alpha             0.8 - 2.0 (1/mag)      uniform, redrawn while alpha > 0.9 b ln 10
c                 0.001 - 0.05 days      log-uniform
p                 1.05 - 1.30            uniform
tau (taper)       1 - 5 years            log-uniform (Omori taper, keeps catalogs stationary)
d                 0.1 - 2.0 km           log-uniform
q                 1.3 - 2.2              uniform
gamma             0.8 - 1.8 (1/mag)      uniform
b                 0.8 - 1.2              uniform
region L x L      L 100 - 400 km         uniform
duration          10 - 20 years          uniform
events            8,000 - 30,000         log-uniform expected simulated events (M >= 2.0);
                                         sets mu = events (1 - n) / duration (per day)
================  =====================  =================================================

Fixed: simulation Mc 2.0, Mmax 7.5, magnitudes reported in bins of 0.1 (lower edge), a 50 km
buffer and a burn-in of 4 tau so that events triggered by unseen parents are present, depths
uniform in 0-20 km (unused: features are epicentral). Catalogs with fewer than 3,000 or more
than 45,000 simulated events are redrawn (parameters and all). The published Southern
California fit (mu 0.86/day, A 0.55, alpha 1.23, c 0.0035 d, p 1.08, d 0.20 km, q 1.46,
gamma 1.53) and the Italian one (mu 0.86, A 0.32, alpha 1.50, c 0.0092 d, p 1.16, d 1.0 km,
q 1.85, gamma 1.02) lie inside these ranges; over the 200 catalogs of the full scale the
derived A spans 0.06 - 0.62 (median 0.24) and mu 0.07 - 5.2 events/day (median 0.92), and
the catalogs hold 3,000 - 23,000 events above Mc (2.0 million in all).

Each catalog then goes through exactly what a user's run does, ``prepare_features`` with
``mc="auto"`` (maximum curvature + 0.2, so about 2.2) and ``b="auto"`` (Aki-Utsu with the
binning correction), for the ``v1`` specification and for the paper's ``aden2021`` one. The
truth label is ``aftershock = generation > 0`` of the simulator, kept even when the parent
fell below Mc or outside the region.

Seeds: ``master_seed`` -> ``SeedSequence.generate_state`` -> one 32-bit seed per catalog
(training catalog i uses state[i], test catalog i state[100 + i]); that seed drives the
parameter draws and the simulation, so any single catalog can be regenerated on its own.

Storage (git-ignored ``export/work/<scale>/dataset/``): one ``<split>_<i:03d>.npz`` per
catalog holding ``X_v1`` and ``X_aden2021`` (float32 [n, 5]), ``log10_eta`` (float64 [n],
from the v1 features, for the NND baseline), ``aftershock`` (int8 [n]) and ``meta`` (a JSON
string: parameters, seed, attempts, Mc, b, sizes, timings). A catalog already on disk is
skipped, so the command is resumable.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from export.etas import ETASParams, branching_ratio, simulate
from lite_decluster.feature_spec import get_spec
from lite_decluster.pipeline import prepare_features

PARAMS_FILE = Path(__file__).resolve().parent / "params.json"
WORK_DIR = Path(__file__).resolve().parent / "work"
SPECS = ("v1", "aden2021", "v2")
SPLITS = ("train", "test")
#: Training catalogs of ``export/diverse.py`` (densities, scales, observation effects), beside
#: the ``train`` split, for the ``v2`` forests.
DIVERSE = "diverse"
_SEED_BLOCK = 100  # test catalog i uses seed state[_SEED_BLOCK + i] at every scale
_MAX_ATTEMPTS = 50


def load_config(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    """The parameter ranges, fixed values, constraints and scales (``export/params.json``)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def catalog_seeds(config: dict[str, Any], split: str, n: int) -> list[int]:
    """The 32-bit seeds of catalogs 0..n-1 of a split (deterministic from ``master_seed``)."""
    if n > _SEED_BLOCK:
        raise ValueError(f"at most {_SEED_BLOCK} catalogs per split")
    state = np.random.SeedSequence(int(config["master_seed"])).generate_state(2 * _SEED_BLOCK)
    start = 0 if split == "train" else _SEED_BLOCK
    return [int(s) for s in state[start : start + n]]


def _draw(rng: np.random.Generator, law: list) -> float:
    kind, lo, hi = law
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    raise ValueError(f"unknown law {kind!r}")


def draw_params(
    rng: np.random.Generator, config: dict[str, Any], events_factor: float = 1.0
) -> tuple[ETASParams, dict[str, float]]:
    """One catalog's ETAS parameters from the configured ranges.

    Returns the parameters and the drawn targets (``branching_ratio``, ``events``). ``A`` is
    solved from the drawn branching ratio and ``mu`` (events/day in the region) from the
    expected number of simulated events, ``events * events_factor`` (scaled down for CI).
    """
    draws, fixed = config["draws"], config["fixed"]
    ratio_max = float(config["constraints"]["alpha_over_beta_max"])
    v = {name: _draw(rng, law) for name, law in draws.items()}
    while v["alpha"] > ratio_max * v["b"] * math.log(10.0):  # resample alpha only
        v["alpha"] = _draw(rng, draws["alpha"])
    base = dict(
        mu=1.0,
        A=1.0,
        alpha=v["alpha"],
        c=v["c"],
        p=v["p"],
        d=v["d"],
        q=v["q"],
        gamma=v["gamma"],
        b=v["b"],
        mc=fixed["mc_sim"],
        mmax=fixed["mmax"],
        Lx=v["L"],
        Ly=v["L"],
        duration=v["duration"],
        burn_in=fixed["burn_in_taus"] * v["tau"],
        buffer=fixed["buffer"],
        tau=v["tau"],
        magnitude_bin=fixed["magnitude_bin"],
        depth_range=tuple(fixed["depth_range"]),
    )
    n_target = v["branching_ratio"]
    base["A"] = n_target / branching_ratio(ETASParams(**base))  # n is linear in A
    events = v["events"] * events_factor
    base["mu"] = events * (1.0 - n_target) / v["duration"]
    return ETASParams(**base), {"branching_ratio": n_target, "events": events}


@dataclass
class CatalogData:
    """One labelled catalog after ``prepare_features`` (arrays aligned, n events above Mc)."""

    X_v1: np.ndarray  # float32 [n, 5]
    X_aden2021: np.ndarray  # float32 [n, 5]
    X_v2: np.ndarray  # float32 [n, 7]: the same events; v2 searches parents down to Mc - 0.5
    log10_eta: np.ndarray  # float64 [n]
    aftershock: np.ndarray  # int8 [n], 1 = generation > 0
    meta: dict[str, Any]


def simulate_catalog(
    seed: int, config: dict[str, Any], events_factor: float = 1.0
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Draw parameters and simulate until the catalog size is acceptable.

    Returns the observed catalog (columns time, x, y, magnitude, depth, generation) and its
    metadata (parameters, targets, seed, attempts, branching ratio).
    """
    rng = np.random.default_rng(seed)
    cons = config["constraints"]
    lo, hi = cons["min_events"] * events_factor, cons["max_events"] * events_factor
    for attempt in range(1, _MAX_ATTEMPTS + 1):
        params, target = draw_params(rng, config, events_factor)
        sim_seed = int(rng.integers(2**63))
        try:
            # the cap stops runaway sequences early (all simulated events, burn-in included)
            cat = simulate(params, sim_seed, max_events=int(40 * hi))
        except RuntimeError:
            continue
        if lo <= len(cat) <= hi:
            df = cat.to_dataframe()[["time", "x", "y", "magnitude", "depth", "generation"]]
            meta = {
                "seed": int(seed),
                "attempts": attempt,
                "sim_seed": sim_seed,
                "params": params.to_dict(),
                "target": target,
                "branching_ratio": branching_ratio(params),
                "n_simulated": len(cat),
            }
            return df, meta
    raise RuntimeError(f"seed {seed}: no acceptable catalog in {_MAX_ATTEMPTS} attempts")


def featurize(df: pd.DataFrame, meta: dict[str, Any], workers: int = 1,
              mc: str | float = "auto") -> CatalogData:
    """``prepare_features`` (mc auto, b auto) for the v1, aden2021 and v2 specs plus labels."""
    t0 = time.perf_counter()
    cols = ["time", "x", "y", "magnitude", "depth"]
    v1 = prepare_features(df[cols], mc=mc, b="auto", spec="v1", workers=workers)
    aden = prepare_features(df[cols], mc=mc, b="auto", spec="aden2021", workers=workers)
    v2 = prepare_features(df[cols], mc=mc, b="auto", spec="v2", workers=workers)
    if len(v1.table) != len(aden.table) or v1.mc != aden.mc or v1.mc != v2.mc:
        raise AssertionError("v1, aden2021 and v2 cut the catalog differently")
    X_v2 = v2.X if v2.target is None else v2.X[v2.target]
    if not np.array_equal(v2.table["magnitude"].to_numpy()[v2.target] if v2.target is not None
                          else v2.table["magnitude"].to_numpy(),
                          v1.table["magnitude"].to_numpy()):  # fmt: skip
        raise AssertionError("v2 labels other events than v1")
    # apply_completeness keeps rows in input order: the same mask selects the labels
    keep = df["magnitude"].to_numpy() >= v1.mc - 1e-6
    gen = df["generation"].to_numpy()[keep]
    if not np.array_equal(v1.table["magnitude"].to_numpy(), df["magnitude"].to_numpy()[keep]):
        raise AssertionError("unexpected row order after the Mc cut")
    meta = dict(meta)
    meta.update(
        mc=float(v1.mc),
        b=float(v1.b),
        b_sigma=float(v1.b_estimate.sigma) if v1.b_estimate is not None else None,
        n=int(keep.sum()),
        background_fraction=float(np.mean(gen == 0)),
        spec_v2=get_spec("v2").to_dict(),
        seconds_features=time.perf_counter() - t0,
    )
    return CatalogData(
        X_v1=v1.X,
        X_aden2021=aden.X,
        X_v2=X_v2,
        log10_eta=v1.features["log10_eta"].to_numpy(dtype=np.float64),
        aftershock=(gen > 0).astype(np.int8),
        meta=meta,
    )


def make_catalog(
    seed: int, config: dict[str, Any], events_factor: float = 1.0, workers: int = 1
) -> CatalogData:
    """Simulate and featurize one catalog (deterministic in ``seed``)."""
    t0 = time.perf_counter()
    df, meta = simulate_catalog(seed, config, events_factor)
    meta["seconds_simulation"] = time.perf_counter() - t0
    return featurize(df, meta, workers=workers)


def catalog_path(directory: Path, split: str, index: int) -> Path:
    return Path(directory) / f"{split}_{index:03d}.npz"


def save_catalog(path: Path, data: CatalogData) -> None:
    """Write atomically (temp file + rename) so an interrupted run leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(
        tmp,
        X_v1=data.X_v1,
        X_aden2021=data.X_aden2021,
        X_v2=data.X_v2,
        log10_eta=data.log10_eta,
        aftershock=data.aftershock,
        meta=np.array(json.dumps(data.meta)),
    )
    tmp.replace(path)


def load_catalog(path: Path) -> CatalogData:
    with np.load(path, allow_pickle=False) as z:
        return CatalogData(
            X_v1=z["X_v1"],
            X_aden2021=z["X_aden2021"],
            X_v2=z["X_v2"],
            log10_eta=z["log10_eta"],
            aftershock=z["aftershock"],
            meta=json.loads(str(z["meta"])),
        )


def _job(args: tuple) -> str:
    path, seed, config, factor = args
    if isinstance(seed, tuple):  # a diverse catalog: ("diverse", index)
        save_catalog(Path(path), make_diverse(seed[1], config))
    else:
        save_catalog(Path(path), make_catalog(seed, config, factor, workers=1))
    return str(path)


def make_diverse(index: int, config: dict[str, Any]) -> CatalogData:
    """Diverse training catalog ``index`` (``export/diverse.py``), featurized as the others."""
    from export.diverse import diverse_catalog

    t0 = time.perf_counter()
    df, gen, meta = diverse_catalog("train", index, config)
    params = meta.pop("params_object", None)
    if params is not None:
        meta["params"] = params.to_dict()
    meta = json.loads(json.dumps(meta, default=float))  # numpy scalars to JSON
    meta["seconds_simulation"] = time.perf_counter() - t0
    df = df.assign(generation=gen)
    return featurize(df, meta, mc=meta["mc_cut"] if meta.get("mc_cut") else "auto")


def _stale(path: Path) -> bool:
    """A cached catalog without the features of today's v2 specification."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "X_v2" not in z.files:
                return True
            return json.loads(str(z["meta"])).get("spec_v2") != get_spec("v2").to_dict()
    except (OSError, ValueError):
        return True


def dataset_dir(work: Path, scale: str) -> Path:
    return Path(work) / scale / "dataset"


def build_dataset(
    scale: str = "full", work: str | Path = WORK_DIR, jobs: int = 2, log=print
) -> dict[str, list[Path]]:
    """Create every missing catalog of the scale; returns the paths per split.

    ``jobs`` worker processes (one catalog each, neighbour search on one thread); the
    result does not depend on ``jobs``.
    """
    config = load_config()
    sc = config["scales"][scale]
    out = dataset_dir(Path(work), scale)
    stamp = out / "config.json"
    if stamp.exists():
        if json.loads(stamp.read_text(encoding="utf-8")) != config:
            raise RuntimeError(f"{out} was built from another params.json: delete {out.parent}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(config, indent=2), encoding="utf-8")
    paths: dict[str, list[Path]] = {}
    todo = []
    for split in SPLITS:
        n = int(sc[f"n_{split}"])
        paths[split] = [catalog_path(out, split, i) for i in range(n)]
        for p, seed in zip(paths[split], catalog_seeds(config, split, n), strict=True):
            if not p.exists() or _stale(p):
                todo.append((str(p), seed, config, float(sc["events_factor"])))
    n_div = int(sc.get("n_diverse", 0))
    paths[DIVERSE] = [catalog_path(out, DIVERSE, i) for i in range(n_div)]
    for i, p in enumerate(paths[DIVERSE]):
        if not p.exists() or _stale(p):
            todo.append((str(p), (DIVERSE, i), config, 1.0))
    if todo:
        log(f"dataset[{scale}]: {len(todo)} catalogs to simulate ({jobs} processes)")
        t0 = time.perf_counter()
        if jobs > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for k, done in enumerate(pool.map(_job, todo), 1):
                    if k % 10 == 0 or k == len(todo):
                        log(f"  {k}/{len(todo)} {Path(done).name} {time.perf_counter() - t0:.0f}s")
        else:
            for job in todo:
                _job(job)
    return paths


def load_split(paths: Iterable[Path]) -> list[CatalogData]:
    return [load_catalog(p) for p in paths]


def cli(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "dataset":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m export dataset", description="Simulate and featurize the ETAS catalogs."
    )
    parser.add_argument("--scale", choices=("full", "small"), default="full")
    parser.add_argument("--work", default=str(WORK_DIR), help="cache folder (export/work)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args(argv)
    paths = build_dataset(args.scale, args.work, args.jobs)
    rows = 0
    for split in SPLITS:
        metas = [load_catalog(p).meta for p in paths[split]]
        n = [m["n"] for m in metas]
        rows += sum(n)
        print(
            f"{split}: {len(n)} catalogs, {sum(n):,} events above Mc "
            f"(min {min(n):,}, median {int(np.median(n)):,}, max {max(n):,})"
        )
    return 0
