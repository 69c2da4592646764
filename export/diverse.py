"""Training catalogs that span densities, scales and observation effects (the ``v2`` forests).

The catalogs of ``export/dataset.py`` all have 3,000 - 45,000 events in a 100 - 400 km square
over 10 - 20 years: a forest trained on them alone learns one range of densities. Each catalog
drawn here starts from the same parameter ranges (``export/params.json``: branching ratio,
alpha, c, p, tau, d, q, gamma, b, events) and then changes what the dataset keeps fixed:

================  ======================================================================
kind (share)      what is drawn
================  ======================================================================
etas (0.8)        region side L log-uniform in 15 - 3,000 km (density per unit area over
                  four decades); with probability 0.3 the background rate is raised 3 - 30
                  times and the window shortened by as much (density per unit time; the
                  burn-in is capped at 3 years to keep the simulation small). Then at most
                  one observation effect, each with probability 0.1: a fault-like
                  background (2 - 4 random segments, half-width 1 - 5 km), short-term
                  aftershock incompleteness (Helmstetter et al. 2006), a detection roll-off
                  below Mc (50 % at M 2.0 - 2.4, sigma 0.1 - 0.3; simulated from M 1.5),
                  epicentral errors (sigma 0.3 - 1.5 km per axis), an Mc stepping down in
                  two steps; or, with probability 0.15, an Mc cut 0.3 - 1.0 above the
                  simulation's 2.0 (the methods are given the cut).
poisson (0.2)     no triggering: 1,000 - 100,000 events (log-uniform) uniform over 10
                  years in an L x L km square, L log-uniform 5 - 5,000 km; b 0.8 - 1.2.
================  ======================================================================

Seeds: catalog i of split s uses ``SeedSequence([DIVERSE_SEED, split_code(s), i])``; the
splits are ``train`` and ``validation`` (the latter only to choose designs and
hyperparameters). The labels: aftershock = ETAS generation > 0 (Poisson: all background).
Units: days, km, magnitude units.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from export import realism
from export.cases import _binned_gr
from export.dataset import draw_params, load_config
from export.etas import branching_ratio, simulate

__all__ = ["DIVERSE_SEED", "diverse_catalog"]

DIVERSE_SEED = 20261203
_SPLIT_CODE = {"train": 1, "validation": 2}
_MAX_EVENTS = 45_000
YEAR = 365.25


def _seed(split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([DIVERSE_SEED, _SPLIT_CODE[split], index]))


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _poisson(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    n = int(round(_loguniform(rng, 1000, 100_000)))
    side = _loguniform(rng, 5.0, 5000.0)
    b = float(rng.uniform(0.8, 1.2))
    t = np.sort(rng.uniform(0.0, 10 * YEAR, n))
    m = _binned_gr(rng, n, 2.0, b)
    df = pd.DataFrame({"time": t, "x": rng.uniform(0, side, n), "y": rng.uniform(0, side, n),
                       "magnitude": m, "depth": np.zeros(n)})  # fmt: skip
    return df, np.zeros(n, dtype=np.int64), {"kind": "poisson", "L": side, "n": n, "b": b}


def _etas(rng: np.random.Generator, config: dict[str, Any]):
    for _attempt in range(50):
        params, target = draw_params(rng, config)
        side = _loguniform(rng, 15.0, 3000.0)
        changes: dict[str, Any] = dict(Lx=side, Ly=side)
        boost = 1.0
        if rng.random() < 0.3:
            boost = _loguniform(rng, 3.0, 30.0)
            changes.update(mu=params.mu * boost, duration=params.duration / boost,
                           burn_in=min(params.burn_in, 3 * YEAR))  # fmt: skip
        params = replace(params, **changes)
        u = rng.random()
        effect, mc_cut = None, None
        if u < 0.5:
            effect = ("faults", "incompleteness", "rolloff", "location", "stepped-mc")[int(u / 0.1)]
        elif u < 0.65:
            mc_cut = round(2.0 + float(rng.uniform(0.3, 1.0)), 1)
        if effect == "faults":
            k = int(rng.integers(2, 5))
            segs = [((float(rng.uniform(0, side)), float(rng.uniform(0, side))),
                     (float(rng.uniform(0, side)), float(rng.uniform(0, side)))) for _ in range(k)]
            params = replace(params, rate_map=realism.fault_rate_map(
                40, 40, side, side, segs, width=float(rng.uniform(1, 5)) * max(side / 250, 0.2),
                floor=0.002))  # fmt: skip
        if effect == "rolloff":  # from M 1.5: same D(m) scaling, background above 2.0, same n
            dm, n_target = 0.5, branching_ratio(params)
            params = replace(params, mc=params.mc - dm, A=1.0,
                             d=params.d * math.exp(-0.5 * params.gamma * dm),
                             mu=params.mu * 10 ** (params.b * dm))  # fmt: skip
            params = replace(params, A=n_target / branching_ratio(params))
        sim_seed = int(rng.integers(2**63))
        try:
            cat = simulate(params, sim_seed, max_events=40 * _MAX_EVENTS)
        except RuntimeError:
            continue
        if effect == "incompleteness":
            cat = realism.apply_short_term_incompleteness(cat, m_large=4.0)
        elif effect == "rolloff":
            cat = realism.apply_detection_rolloff(cat, rng, m50=float(rng.uniform(2.0, 2.4)),
                                                  sigma=float(rng.uniform(0.1, 0.3)))  # fmt: skip
        elif effect == "location":
            cat = realism.apply_location_errors(cat, rng, sigma=float(rng.uniform(0.3, 1.5)))
        elif effect == "stepped-mc":
            dur = params.duration
            s1, s2 = sorted(rng.uniform(0.1, 0.9, 2))
            cat = realism.apply_time_varying_mc(
                cat, [(0.0, 3.0), (s1 * dur, 2.5), (s2 * dur, 2.0)])
        ev = cat.events
        if mc_cut is not None:
            ev = ev[ev["magnitude"] >= mc_cut - 1e-9]
        if not 2000 <= len(ev) <= _MAX_EVENTS:
            continue
        df = pd.DataFrame({"time": ev["time"], "x": ev["x"], "y": ev["y"],
                           "magnitude": ev["magnitude"], "depth": np.zeros(len(ev))})  # fmt: skip
        meta = {"kind": "etas", "L": side, "params_object": params, "boost": boost,
                "effect": effect, "mc_cut": mc_cut,
                "params": {k: v for k, v in params.to_dict().items() if k != "rate_map"},
                "target": target, "sim_seed": sim_seed}  # fmt: skip
        return df, ev["generation"].astype(np.int64), meta
    raise RuntimeError("no acceptable diverse ETAS catalog in 50 attempts")


def diverse_catalog(
    split: str, index: int, config: dict[str, Any] | None = None
) -> tuple[pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Catalog ``index`` of ``split`` (deterministic).

    Returns the observed catalog (time-sorted; columns time in days, x, y in km, magnitude,
    depth), its ETAS generation per event (0 = background) and metadata (``kind``, ``L``,
    ``effect``, ``mc_cut``: the Mc to give the methods, None for "auto").
    """
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}")
    rng = _seed(split, index)
    cfg = load_config() if config is None else config
    if rng.random() < 0.2:
        df, gen, meta = _poisson(rng)
    else:
        df, gen, meta = _etas(rng, cfg)
    meta.update(split=split, index=index)
    return df, gen, meta
