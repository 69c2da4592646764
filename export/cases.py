"""The evaluation cases: sets of labelled catalogs with fixed seeds (``python -m export evaluate``).

Units: time in days, distances in km, rates in events / day, angles in degrees.

Groups (full scale; ``small`` is a reduced set for CI, see :func:`cases`):

* **in distribution**: the 100 test catalogs of ``export/dataset.py`` (test catalog i from
  seed state[100 + i], regenerated exactly), ``mc="auto"``, ``b="auto"``.
* **Poisson**: no triggering (every event background). Times uniform over 10 years,
  epicentres uniform on the sphere in a longitude/latitude box, Gutenberg-Richter magnitudes
  (b = 1) from Mc, reported in 0.1 bins (lower edge); 1k to 1M events; boxes of 10 km, 100 km,
  1,000 km at the equator, the whole sphere, a 10 x 10 degree box crossing the antimeridian
  and the polar cap above 80 N; Mc 2.0 to 6.0. Methods get ``mc=Mc``, ``b=1.0`` (as the
  measurement in the transfer issue).
* **scale sweeps** of ETAS catalogs with one parameter set (:data:`SWEEP_PARAMS`: A 0.3,
  alpha 1.5, c 0.005 d, p 1.15, tau 1000 d, d 0.5 km, q 1.7, gamma 1.2, b 1, branching ratio
  0.85): background rate mu from 1/10 to 100 times the training median 0.92 / day (250 km
  square, the training median side; shorter windows for the dense ones, keeping about
  45,000 events), region sides 30, 300 and 3,000 km on the sphere (mu 0.92 / day), and Mc cut
  at 2.5 and 3.0 above the simulation's 2.0.
* **realism** (each on the sweep's 1x catalog: 250 km, mu 0.92 / day, 10 years), with the
  effects of ``export/realism.py``: fault-like heterogeneous background, short-term
  aftershock incompleteness (Helmstetter et al. 2006), detection roll-off below Mc
  (cumulative normal, 50 % at M 2.0, sigma 0.2; ETAS simulated from M 1.5 with the same
  D(m), the same background rate above 2.0 and the same branching ratio 0.85, so events
  below 2.0 trigger too), epicentral errors (sigma 0.8 km per axis: median 0.94 km), and an
  Mc stepping from 3.0 to 2.5 (after 35 % of the window) to 2.0 (after 70 %).

Seeds: catalog i of case C uses ``SeedSequence([EVAL_SEED, crc32(C), i])``; the test catalogs
use ``export/dataset.py``'s seeds.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from export import realism
from export.dataset import catalog_seeds, load_config, simulate_catalog
from export.etas import ETASParams, branching_ratio, simulate

__all__ = ["EVAL_SEED", "SWEEP_PARAMS", "Case", "EvalCatalog", "cases", "make_catalog"]

EVAL_SEED = 20261202
TRAINING_MEDIAN_MU = 0.92  # events / day, median over the 200 catalogs (export/dataset.py)
YEAR = 365.25
EPOCH = pd.Timestamp("2000-01-01", tz="UTC")

SWEEP_PARAMS: dict[str, Any] = dict(
    mu=TRAINING_MEDIAN_MU, A=0.3, alpha=1.5, c=0.005, p=1.15, tau=1000.0, d=0.5, q=1.7,
    gamma=1.2, b=1.0, mc=2.0, mmax=7.5, Lx=250.0, Ly=250.0, duration=10 * YEAR,
    burn_in=4000.0, buffer=50.0, magnitude_bin=0.1, depth_range=(0.0, 20.0),
)  # fmt: skip

BOXES: dict[str, tuple[float, float, float, float]] = {  # lon_min, lon_max, lat_min, lat_max
    "10km": (0.0, 0.0899, 0.0, 0.0899),
    "100km": (0.0, 0.899, 0.0, 0.899),
    "1000km": (0.0, 8.99, 0.0, 8.99),
    "global": (-180.0, 180.0, -90.0, 90.0),
    "antimeridian": (175.0, -175.0, -25.0, -15.0),
    "pole": (-180.0, 180.0, 80.0, 90.0),
}

FAULTS = (((30.0, 40.0), (220.0, 120.0)), ((60.0, 210.0), (200.0, 230.0)),
          ((125.0, 20.0), (140.0, 240.0)))  # fmt: skip


@dataclass(frozen=True, eq=False)
class Case:
    """One case: ``n_catalogs`` catalogs of one ``kind`` ('test', 'poisson', 'etas')."""

    name: str
    group: str
    title: str
    kind: str
    n_catalogs: int
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class EvalCatalog:
    """A labelled catalog, time-sorted, arrays of shape (n,).

    ``x``, ``y`` (km, the simulation's plane) are None for Poisson catalogs; ``lon``, ``lat``
    (degrees) are None for planar ones. ``params`` are the true ETAS parameters (None for
    Poisson). ``mc`` and ``b`` are what the methods are given. ``parent`` (truth, not given to
    the methods) is the index of each event's parent in this catalog, -1 for background
    events and for parents that are not in it (outside the region or the window, removed).
    """

    time: np.ndarray
    magnitude: np.ndarray
    generation: np.ndarray
    x: np.ndarray | None
    y: np.ndarray | None
    lon: np.ndarray | None
    lat: np.ndarray | None
    params: ETASParams | None
    mc: float | str
    b: float | str
    meta: dict[str, Any] = field(default_factory=dict)
    parent: np.ndarray | None = None  # index of the true parent in this catalog, -1 if unseen

    def __len__(self) -> int:
        return int(self.time.size)

    def to_frame(self) -> pd.DataFrame:
        """The table a user would pass to ``decluster``: x/y km and time in days, or
        latitude/longitude degrees and UTC datetimes (days after 2000-01-01)."""
        depth = np.zeros(self.time.size)
        if self.lon is None:
            return pd.DataFrame({"time": self.time, "x": self.x, "y": self.y,
                                 "magnitude": self.magnitude, "depth": depth})  # fmt: skip
        when = EPOCH + pd.to_timedelta(np.round(self.time * 86400e6), unit="us")
        return pd.DataFrame({"time": when, "latitude": self.lat, "longitude": self.lon,
                             "depth": depth, "magnitude": self.magnitude})  # fmt: skip


def _seed(name: str, index: int) -> int:
    seq = np.random.SeedSequence([EVAL_SEED, zlib.crc32(name.encode()), index])
    return int(seq.generate_state(1)[0])


def _poisson_cases(scale: str) -> list[Case]:
    out = []
    if scale == "small":
        cells = [(1000, "100km", 2.5, 1), (1000, "antimeridian", 2.5, 1)]
    else:
        cells = [(n, box, 2.5, 5) for n in (1000, 10000) for box in
                 ("10km", "100km", "1000km", "global")]  # fmt: skip
        cells += [(100_000, box, 2.5, 2) for box in ("10km", "100km", "1000km", "global")]
        cells += [(1_000_000, box, 2.5, 1) for box in ("100km", "global")]
        cells += [(10000, box, 2.5, 5) for box in ("antimeridian", "pole")]
        cells += [(10000, "100km", mc, 3) for mc in (2.0, 4.0, 6.0)]
    for n, box, mc, k in cells:
        label = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
        name = f"poisson-{label}-{box}" + ("" if mc == 2.5 else f"-mc{mc:g}")
        title = f"Poisson, {n:,} events, box {box}, Mc {mc:g}"
        out.append(Case(name, "poisson", title, "poisson", k, dict(n=n, box=box, mc=mc)))
    return out


def _etas_cases(scale: str) -> list[Case]:
    small = scale == "small"
    k = 1 if small else 5
    short = dict(duration=YEAR) if small else {}
    rates = [(1.0, 10 * YEAR)] if small else [
        (0.1, 10 * YEAR), (1.0, 10 * YEAR), (10.0, 2 * YEAR), (100.0, 0.2 * YEAR)]  # fmt: skip
    out = []
    for factor, duration in rates:
        mu = TRAINING_MEDIAN_MU * factor
        dur = short.get("duration", duration)
        out.append(Case(f"sweep-rate-x{factor:g}", "sweep",
                        f"ETAS, mu {mu:.3g}/day ({factor:g} x training median), 250 km, "
                        f"{dur / YEAR:.3g} years", "etas", k,
                        dict(mu=mu, duration=dur)))  # fmt: skip
    sizes = [(300.0, -118.0, 36.0)] if small else [
        (30.0, -116.5, 33.5), (300.0, -118.0, 36.0), (3000.0, 140.0, 36.0)]  # fmt: skip
    for side, lon0, lat0 in sizes:
        out.append(Case(f"sweep-size-L{side:g}km-sphere", "sweep",
                        f"ETAS on the sphere, {side:g} km box at ({lon0:g}, {lat0:g}), "
                        "mu 0.92/day", "etas", k,
                        dict(Lx=side, Ly=side, centre=(lon0, lat0), **short)))  # fmt: skip
    if not small:
        for mc in (2.5, 3.0):
            out.append(Case(f"sweep-mc{mc:g}", "sweep",
                            f"ETAS, 250 km, mu 0.92/day, Mc cut at {mc:g} (simulated from 2.0)",
                            "etas", k, dict(mc_cut=mc)))  # fmt: skip
    real = [
        (
            "faults",
            "fault-like heterogeneous background (3 lines, half-width 3 km, "
            "97 % of the rate on faults)",
        ),
        ("incompleteness", "short-term aftershock incompleteness, Mc(t) = M - 4.5 - 0.75 log10 dt"),
        ("rolloff", "detection roll-off below Mc: Phi((m - 2.0) / 0.2), ETAS simulated from M 1.5"),
        ("location", "epicentral location errors, normal, sigma 0.8 km per axis"),
        (
            "stepped-mc",
            "time-varying Mc: 3.0, then 2.5 after 35 % and 2.0 after 70 % of the window",
        ),
    ]
    for effect, title in real:
        out.append(Case(f"realism-{effect}", "realism", f"ETAS, 250 km, mu 0.92/day: {title}",
                        "etas", k, dict(effect=effect, **short)))  # fmt: skip
    return out


def cases(scale: str = "full") -> list[Case]:
    """Every case of a scale ('full' or 'small'), in the order they are run and reported."""
    if scale not in ("full", "small"):
        raise ValueError(f"unknown scale {scale!r}")
    n_test = 2 if scale == "small" else 100
    test = Case("in-distribution", "in distribution",
                f"the {n_test} test catalogs of export/dataset.py", "test", n_test)  # fmt: skip
    return [test, *_poisson_cases(scale), *_etas_cases(scale)]


def get_case(name: str, scale: str = "full") -> Case:
    """The case of that name at that scale (KeyError if none)."""
    for case in cases(scale):
        if case.name == name:
            return case
    raise KeyError(name)


def _binned_gr(rng: np.random.Generator, n: int, mc: float, b: float = 1.0) -> np.ndarray:
    m = mc + rng.standard_exponential(n) / (b * math.log(10.0))
    return np.round(mc + 0.1 * np.floor((m - mc) / 0.1 + 1e-9), 10)


def _make_poisson(case: Case, seed: int) -> EvalCatalog:
    s = case.settings
    rng = np.random.default_rng(seed)
    n = int(s["n"])
    t = np.sort(rng.uniform(0.0, 10 * YEAR, n))
    lon, lat = realism.uniform_sphere_box(rng, n, *BOXES[s["box"]])
    mag = _binned_gr(rng, n, float(s["mc"]))
    return EvalCatalog(time=t, magnitude=mag, generation=np.zeros(n, dtype=np.int64), x=None,
                       y=None, lon=lon, lat=lat, params=None, mc=float(s["mc"]), b=1.0,
                       meta={"seed": seed})  # fmt: skip


def _make_test(index: int, scale: str) -> EvalCatalog:
    config = load_config()
    seed = catalog_seeds(config, "test", index + 1)[index]
    factor = float(config["scales"][scale]["events_factor"])
    df, meta = simulate_catalog(seed, config, factor)
    params = ETASParams.from_dict(meta["params"])
    again = simulate(params, meta["sim_seed"])  # the same catalog, with its parents
    if not np.array_equal(again["time"], df["time"].to_numpy()):
        raise AssertionError("test catalog not reproduced")
    return EvalCatalog(time=df["time"].to_numpy(), magnitude=df["magnitude"].to_numpy(),
                       generation=df["generation"].to_numpy(), x=df["x"].to_numpy(),
                       y=df["y"].to_numpy(), lon=None, lat=None,
                       params=params, mc="auto", b="auto",
                       meta={"seed": seed, "sim_seed": meta["sim_seed"]},
                       parent=again["parent"].copy())  # fmt: skip


def _make_etas(case: Case, seed: int) -> EvalCatalog:
    s = dict(case.settings)
    effect = s.pop("effect", None)
    centre = s.pop("centre", None)
    mc_cut = s.pop("mc_cut", "auto")
    base = {**SWEEP_PARAMS, **s}
    if effect == "faults":
        base["rate_map"] = realism.fault_rate_map(50, 50, base["Lx"], base["Ly"], FAULTS,
                                                  width=3.0, floor=0.002)  # fmt: skip
    if effect == "rolloff":  # simulated from M 1.5: same D(m), background above 2.0, n
        dm = 0.5
        n_target = branching_ratio(ETASParams(**base))
        base.update(mc=base["mc"] - dm, d=base["d"] * math.exp(-0.5 * base["gamma"] * dm),
                    mu=base["mu"] * 10 ** (base["b"] * dm), A=1.0)  # fmt: skip
        base["A"] = n_target / branching_ratio(ETASParams(**base))
    params = ETASParams(**base)
    rng = np.random.default_rng(seed)
    cat = simulate(params, int(rng.integers(2**63)), max_events=20_000_000)
    if effect == "incompleteness":
        cat = realism.apply_short_term_incompleteness(cat, m_large=4.0)
    elif effect == "rolloff":
        cat = realism.apply_detection_rolloff(cat, rng, m50=2.0, sigma=0.2)
    elif effect == "location":
        cat = realism.apply_location_errors(cat, rng, sigma=0.8)
    elif effect == "stepped-mc":
        dur = params.duration
        cat = realism.apply_time_varying_mc(cat, [(0.0, 3.0), (0.35 * dur, 2.5), (0.7 * dur, 2.0)])
    ev = cat.events
    lon = lat = None
    if centre is not None:
        lon, lat = realism.planar_to_geographic(ev["x"] - params.Lx / 2, ev["y"] - params.Ly / 2,
                                                *centre)  # fmt: skip
    return EvalCatalog(time=ev["time"].copy(), magnitude=ev["magnitude"].copy(),
                       generation=ev["generation"].copy(), x=ev["x"].copy(), y=ev["y"].copy(),
                       lon=lon, lat=lat, params=params, mc=mc_cut, b="auto",
                       meta={"seed": seed, "effect": effect},
                       parent=ev["parent"].copy())  # fmt: skip


def make_catalog(case: Case, index: int, scale: str = "full") -> EvalCatalog:
    """Catalog ``index`` of ``case`` (deterministic)."""
    if not 0 <= index < case.n_catalogs:
        raise IndexError(f"{case.name} has {case.n_catalogs} catalogs, not index {index}")
    if case.kind == "test":
        return _make_test(index, scale)
    if case.kind == "poisson":
        return _make_poisson(case, _seed(case.name, index))
    if case.kind == "etas":
        return _make_etas(case, _seed(case.name, index))
    raise ValueError(f"unknown case kind {case.kind!r}")


def small_variant(case: Case, **settings: Any) -> Case:
    """A copy of ``case`` with some settings replaced (for tests)."""
    return replace(case, settings={**case.settings, **settings})
