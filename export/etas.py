"""Space-time ETAS simulator producing labelled synthetic catalogs (numpy only).

Units: time in days, distances in km, magnitudes in magnitude units, rates in events/day.

Model
-----
Conditional intensity (events / day / km^2; magnitudes are drawn independently, see below)::

    lambda(t, x, y | H) = mu * u(x, y)
                          + sum_{t_i < t} kappa(m_i) g(t - t_i) f(x - x_i, y - y_i | m_i)

* Background: ``mu`` is the expected number of background events per day *inside the target
  region* ``[0, Lx] x [0, Ly]`` (km), so ``u`` integrates to 1 over the target region. With no
  rate map ``u = 1 / (Lx Ly)``. With a rate map (2-D array of relative rates, shape (ny, nx),
  row ``iy`` covering ``y`` in ``[iy Ly/ny, (iy+1) Ly/ny]`` and column ``ix`` covering ``x`` in
  ``[ix Lx/nx, (ix+1) Lx/nx]``), ``u`` is piecewise constant, proportional to the map and
  normalised over the target region. Background events are simulated over the region enlarged
  by ``buffer`` km on every side (the same density continues into the buffer: uniform, or the
  nearest edge cell of the rate map) and over ``[-burn_in, duration]`` days, so that the
  observed window also contains events triggered by parents outside it, as a real network
  would record them. Background times are uniform (homogeneous Poisson in time).
* Productivity: an event of magnitude ``m`` has Poisson(kappa(m)) direct offspring,
  ``kappa(m) = A exp(alpha (m - Mc))``.
* Time kernel (Omori-Utsu), density of the parent-child delay ``t`` (days)::

      g(t) = (p - 1) / c * (1 + t / c)^(-p),                       p > 1, c > 0 (days)

  or, with an exponential taper of time scale ``tau`` (days)::

      g(t) = (1 + t / c)^(-p) exp(-t / tau) / Z,
      Z = c (c / tau)^(p - 1) exp(c / tau) Gamma(1 - p, c / tau).

  Untapered delays are drawn by inversion; tapered delays by exact rejection sampling from the
  untapered law (acceptance ``exp(-t / tau)``) when ``tau (p - 1) >= c``, else from an
  exponential of mean ``tau`` (acceptance ``(1 + t / c)^(-p)``), whichever accepts more often.
* Spatial kernel (isotropic, direction uniform), density per km^2 of the offset ``r`` (km)::

      f(r | m) = (q - 1) / (pi D(m)^2) * (1 + r^2 / D(m)^2)^(-q),  D(m)^2 = d^2 exp(gamma (m - Mc))

  with radial CDF ``1 - (1 + r^2 / D^2)^(1 - q)``, drawn by inversion.
* Magnitudes: Gutenberg-Richter above ``Mc`` truncated at ``Mmax``: ``m - Mc`` is exponential
  with rate ``beta = b ln 10`` truncated to ``[0, Mmax - Mc]``, drawn by inversion,
  independently of everything else. The simulation (productivity, spatial scale) always uses
  the continuous magnitude. With ``magnitude_bin = dm > 0`` the *reported* magnitude is the
  lower edge of its bin, ``Mc + dm floor((m - Mc) / dm)``, so reported magnitudes start at
  ``Mc`` and the Aki-Utsu estimator with Utsu's ``dm / 2`` correction applies.
* Depth plays no part in the (2-D) model; it is 0, or uniform in ``depth_range`` (km) per event.

Branching ratio (expected direct offspring per event), closed form for the truncated GR law,
with ``M = Mmax - Mc``::

    n = A E[exp(alpha (m - Mc))] = A beta (exp((alpha - beta) M) - 1)
                                   / ((alpha - beta) (1 - exp(-beta M)))     (A beta M / (1 -
                                   exp(-beta M)) when alpha = beta)

Simulation
----------
Background events first, then triggered events generation by generation, vectorised per
generation: all offspring counts of a generation at once, then all their delays, offsets and
magnitudes. Offspring falling after the end of the window (``t > duration``) can neither be
observed nor have observed descendants, so they are counted (``n_offspring``) but not kept.
The loop ends when a generation is empty. Supercritical parameters (``n >= 1``) raise
``ValueError`` unless ``allow_supercritical=True`` with a hard cap ``max_events``.

Outputs
-------
``simulate_full`` returns every kept event of the simulation (buffer and burn-in included) with
``event_id`` equal to its row index and ``parent`` equal to ``true_parent_id``. ``simulate``
returns the observed catalog: events with ``0 <= time <= duration`` and inside the target
region, sorted by time, ``parent`` re-indexed into the observed catalog (-1 for background
events and for events whose parent was not observed). The training label is
``aftershock = generation > 0``, even when the parent is unobserved.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from export.etas_params import ETASParams, _as_float, branching_ratio  # noqa: F401

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CATALOG_DTYPE",
    "CSV_COLUMNS",
    "DATAFRAME_COLUMNS",
    "Catalog",
    "ETASParams",
    "bin_magnitudes",
    "branching_ratio",
    "cli",
    "observe",
    "productivity",
    "sample_magnitudes",
    "sample_offsets",
    "sample_time_delays",
    "simulate",
    "simulate_full",
    "to_dataframe",
]

#: Fields of a catalog's structured array. ``n_offspring`` is the number of direct offspring
#: drawn in the simulation (including those after the window): truth, not a feature.
CATALOG_DTYPE = np.dtype(
    [
        ("time", "f8"),
        ("x", "f8"),
        ("y", "f8"),
        ("magnitude", "f8"),
        ("depth", "f8"),
        ("parent", "i8"),
        ("generation", "i8"),
        ("event_id", "i8"),
        ("true_parent_id", "i8"),
        ("n_offspring", "i8"),
    ]
)
CSV_COLUMNS = ("time", "x", "y", "magnitude", "depth", "parent", "generation", "event_id")
DATAFRAME_COLUMNS = (
    "time",
    "x",
    "y",
    "magnitude",
    "depth",
    "parent",
    "generation",
    "is_background",
    "true_parent_id",
    "event_id",
)

def productivity(magnitudes: np.ndarray, params: ETASParams) -> np.ndarray:
    """Expected direct offspring ``kappa(m) = A exp(alpha (m - Mc))``, same shape as input."""
    return params.A * np.exp(params.alpha * (np.asarray(magnitudes, dtype=float) - params.mc))


def sample_magnitudes(rng: np.random.Generator, size: int, params: ETASParams) -> np.ndarray:
    """Continuous truncated Gutenberg-Richter magnitudes in ``[mc, mmax]``, shape (size,)."""
    beta = params.beta
    mass = -math.expm1(-beta * (params.mmax - params.mc))  # P(m <= mmax) untruncated
    u = rng.random(size)
    return params.mc - np.log1p(-u * mass) / beta


def bin_magnitudes(magnitudes: np.ndarray, params: ETASParams) -> np.ndarray:
    """Reported magnitudes: lower bin edge ``mc + dm floor((m - mc) / dm)``; unchanged if dm 0."""
    m = np.asarray(magnitudes, dtype=float)
    dm = params.magnitude_bin
    if dm <= 0:
        return m.copy()
    k = np.floor((m - params.mc) / dm + 1e-9)  # 1e-9: an exact edge stays in its own bin
    return np.round(params.mc + dm * k, 10)  # round away float noise such as 2.3000000000004


def _omori_delays(rng: np.random.Generator, size: int, c: float, p: float) -> np.ndarray:
    # Inversion: 1 - G(t) = (1 + t/c)^(1-p) = exp(-E), E ~ Exp(1). Overflow gives inf (> window).
    e = rng.standard_exponential(size)
    with np.errstate(over="ignore"):
        return c * np.expm1(e / (p - 1.0))


def sample_time_delays(rng: np.random.Generator, size: int, params: ETASParams) -> np.ndarray:
    """Parent-child delays (days) from the (optionally tapered) Omori-Utsu kernel, shape (size,).

    May contain ``inf`` for the untapered kernel when p is very close to 1 (float overflow);
    such delays are far beyond any window.
    """
    c, p, tau = params.c, params.p, params.tau
    if tau is None:
        return _omori_delays(rng, size, c, p)
    out = np.empty(size)
    todo = np.arange(size)
    # Both proposals dominate the target; acceptance rates are Z (p-1)/c and Z/tau.
    omori_proposal = tau * (p - 1.0) >= c
    while todo.size:
        if omori_proposal:
            t = _omori_delays(rng, todo.size, c, p)
            accept = np.exp(-t / tau)
        else:
            t = rng.exponential(tau, todo.size)
            accept = np.exp(-p * np.log1p(t / c))
        ok = rng.random(todo.size) < accept
        out[todo[ok]] = t[ok]
        todo = todo[~ok]
    return out


def sample_offsets(
    rng: np.random.Generator, magnitudes: np.ndarray, params: ETASParams
) -> tuple[np.ndarray, np.ndarray]:
    """Child offsets ``(dx, dy)`` in km for parents of the given magnitudes, each shape (n,).

    Offsets can be ``inf`` when q is very close to 1 (float overflow of the radius).
    """
    m = np.asarray(magnitudes, dtype=float)
    scale = params.d * np.exp(0.5 * params.gamma * (m - params.mc))  # D(m), km
    e = rng.standard_exponential(m.shape)
    with np.errstate(over="ignore"):
        # Inversion: (1 + r^2/D^2)^(1-q) = exp(-E).
        r = scale * np.sqrt(np.expm1(e / (params.q - 1.0)))
    theta = rng.uniform(0.0, 2.0 * np.pi, m.shape)
    with np.errstate(invalid="ignore"):
        return r * np.cos(theta), r * np.sin(theta)


def _background(
    rng: np.random.Generator, params: ETASParams, t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background times, x, y over [t0, t1] x the buffered region."""
    weights = np.asarray(params.rate_map if params.rate_map is not None else [[1.0]], dtype=float)
    ny, nx = weights.shape
    b = params.buffer
    # Extended grid: one buffer column/row on each side continuing the edge cells' density.
    xe = np.concatenate(([-b], np.linspace(0.0, params.Lx, nx + 1), [params.Lx + b]))
    ye = np.concatenate(([-b], np.linspace(0.0, params.Ly, ny + 1), [params.Ly + b]))
    cell_area = (params.Lx / nx) * (params.Ly / ny)
    density = np.pad(weights / weights.sum() / cell_area, 1, mode="edge")  # per km^2
    mass = density * np.outer(np.diff(ye), np.diff(xe))  # expected fraction of mu per cell
    n = rng.poisson(params.mu * (t1 - t0) * mass.sum())
    cum = np.cumsum(mass.ravel())
    cell = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), cum.size - 1)
    iy, ix = np.divmod(cell, nx + 2)
    x = xe[ix] + rng.random(n) * (xe[ix + 1] - xe[ix])
    y = ye[iy] + rng.random(n) * (ye[iy + 1] - ye[iy])
    t = rng.uniform(t0, t1, n)
    return t, x, y


def _as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


@dataclass(frozen=True, eq=False)
class Catalog:
    """A simulated catalog: a structured array of dtype ``CATALOG_DTYPE``, shape (n,).

    ``observed`` is True for the observed catalog (``simulate``/``observe``), False for the full
    simulation (``simulate_full``). Columns are available as ``catalog["time"]`` etc.
    """

    events: np.ndarray
    params: ETASParams
    observed: bool

    def __len__(self) -> int:
        return int(self.events.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.events[name]

    @property
    def is_background(self) -> np.ndarray:
        """Boolean array, shape (n,): generation == 0."""
        return self.events["generation"] == 0

    @property
    def is_aftershock(self) -> np.ndarray:
        """Training label, boolean array, shape (n,): generation > 0."""
        return self.events["generation"] > 0

    def to_dataframe(self) -> pd.DataFrame:
        """pandas DataFrame with columns ``DATAFRAME_COLUMNS``."""
        return to_dataframe(self)

    def to_csv(self, path_or_buf: Any, columns: Sequence[str] = CSV_COLUMNS) -> None:
        """Write the given columns as CSV (full float precision)."""
        self.to_dataframe()[list(columns)].to_csv(path_or_buf, index=False)


def to_dataframe(catalog: Catalog) -> pd.DataFrame:
    """pandas DataFrame with columns ``time`` (days), ``x``, ``y`` (km), ``magnitude``,
    ``depth`` (km), ``parent``, ``generation``, ``is_background``, ``true_parent_id``,
    ``event_id``."""
    import pandas as pd

    ev = catalog.events
    cols: dict[str, np.ndarray] = {}
    for name in DATAFRAME_COLUMNS:
        cols[name] = ev["generation"] == 0 if name == "is_background" else ev[name].copy()
    return pd.DataFrame(cols)


def simulate_full(
    params: ETASParams,
    random_state: int | np.random.Generator | None = None,
    *,
    allow_supercritical: bool = False,
    max_events: int | None = None,
) -> Catalog:
    """Simulate every event over the buffered region and ``[-burn_in, duration]`` days.

    Parameters
    ----------
    params : ETASParams
    random_state : int seed or numpy Generator (a fixed seed gives an identical catalog).
    allow_supercritical : permit a branching ratio >= 1; requires ``max_events``.
    max_events : hard cap on drawn events (background plus all drawn offspring, including
        those after the window); exceeding it raises RuntimeError.

    Returns
    -------
    Catalog with ``observed=False``: rows ordered by generation, ``event_id`` = row index,
    ``parent`` = ``true_parent_id`` (-1 for background), times relative to the window start.
    """
    n_ratio = branching_ratio(params)
    if n_ratio >= 1 and not allow_supercritical:
        raise ValueError(
            f"supercritical ETAS parameters: branching ratio {n_ratio:.4g} >= 1; pass "
            "allow_supercritical=True with max_events to simulate anyway"
        )
    if allow_supercritical and max_events is None:
        raise ValueError("allow_supercritical=True requires a hard cap max_events")
    if max_events is not None and max_events < 0:
        raise ValueError(f"max_events must be >= 0, got {max_events}")
    cap = math.inf if max_events is None else int(max_events)
    rng = _as_generator(random_state)
    t_end = params.duration

    t, x, y = _background(rng, params, -params.burn_in, t_end)
    m = sample_magnitudes(rng, t.size, params)
    n_drawn = t.size
    if n_drawn > cap:
        raise RuntimeError(f"event cap exceeded: {n_drawn} background events > {cap}")
    times, xs, ys, mags, parents, gens, noffs = [t], [x], [y], [m], [np.full(t.size, -1)], [0], []
    offset, generation = 0, 0
    while t.size:
        counts = rng.poisson(productivity(m, params))
        noffs.append(counts)
        total = int(counts.sum())
        if total == 0:
            break
        n_drawn += total
        if n_drawn > cap:
            raise RuntimeError(
                f"event cap exceeded: {n_drawn} events drawn > max_events={cap} "
                f"(generation {generation + 1}, branching ratio {n_ratio:.4g})"
            )
        local = np.repeat(np.arange(t.size), counts)
        tc = t[local] + sample_time_delays(rng, total, params)
        keep = tc <= t_end  # later offspring cannot be observed nor have observed descendants
        local, tc = local[keep], tc[keep]
        dx, dy = sample_offsets(rng, m[local], params)
        mc_new = sample_magnitudes(rng, local.size, params)
        xc, yc = x[local] + dx, y[local] + dy
        finite = np.isfinite(xc) & np.isfinite(yc)  # overflowed radii (q ~ 1): unreachable
        if not finite.all():
            local, tc, xc, yc, mc_new = (a[finite] for a in (local, tc, xc, yc, mc_new))
        generation += 1
        parents.append(offset + local)
        offset += t.size
        t, x, y, m = tc, xc, yc, mc_new
        times.append(t)
        xs.append(x)
        ys.append(y)
        mags.append(m)
        gens.append(generation)
    if len(noffs) < len(times):  # the last generation was empty (all after the window)
        noffs.append(np.zeros(times[-1].size, dtype=np.int64))

    n = offset + t.size
    ev = np.zeros(n, dtype=CATALOG_DTYPE)
    ev["time"] = np.concatenate(times)
    ev["x"] = np.concatenate(xs)
    ev["y"] = np.concatenate(ys)
    ev["magnitude"] = bin_magnitudes(np.concatenate(mags), params)
    if params.depth_range is not None:
        ev["depth"] = rng.uniform(params.depth_range[0], params.depth_range[1], n)
    ev["parent"] = np.concatenate(parents)
    ev["true_parent_id"] = ev["parent"]
    ev["generation"] = np.repeat(np.array(gens, dtype=np.int64), [a.size for a in times])
    ev["event_id"] = np.arange(n)
    ev["n_offspring"] = np.concatenate(noffs)
    return Catalog(events=ev, params=params, observed=False)


def observe(full: Catalog) -> Catalog:
    """Observed catalog of a full simulation: events in ``[0, T] x [0, Lx] x [0, Ly]``.

    Sorted by time (ties by event_id, so a parent precedes its child); ``parent`` is the index
    of the parent in the returned catalog, or -1 if background or if the parent is unobserved;
    ``event_id`` and ``true_parent_id`` are ids in the full simulation.
    """
    if full.observed:
        raise ValueError("observe() expects the full simulation from simulate_full()")
    p, ev = full.params, full.events
    inside = (
        (ev["time"] >= 0.0)
        & (ev["time"] <= p.duration)
        & (ev["x"] >= 0.0)
        & (ev["x"] <= p.Lx)
        & (ev["y"] >= 0.0)
        & (ev["y"] <= p.Ly)
    )
    idx = np.flatnonzero(inside)
    idx = idx[np.lexsort((ev["event_id"][idx], ev["time"][idx]))]
    obs = ev[idx]  # fancy indexing copies
    lookup = np.full(ev.shape[0], -1, dtype=np.int64)  # full id -> observed index
    lookup[obs["event_id"]] = np.arange(obs.shape[0])
    tp = obs["true_parent_id"]
    obs["parent"] = np.where(tp >= 0, lookup[np.maximum(tp, 0)], -1)
    return Catalog(events=obs, params=p, observed=True)


def simulate(
    params: ETASParams,
    random_state: int | np.random.Generator | None = None,
    *,
    allow_supercritical: bool = False,
    max_events: int | None = None,
) -> Catalog:
    """Simulate an ETAS catalog and return the observed part (see ``simulate_full``,
    ``observe``); ``simulate(p, s)`` equals ``observe(simulate_full(p, s))``."""
    full = simulate_full(
        params, random_state, allow_supercritical=allow_supercritical, max_events=max_events
    )
    return observe(full)


def cli(argv: list[str] | None = None) -> int:
    """``python -m export simulate CONFIG.json --seed 1 -o out.csv``; returns an exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m export", description="Synthetic ETAS catalogs for lite-decluster."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="simulate an ETAS catalog and write it as CSV")
    sim.add_argument("config", type=Path, help="JSON file of ETASParams")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sim.add_argument("-o", "--output", type=Path, default=None, help="CSV path (default stdout)")
    sim.add_argument("--allow-supercritical", action="store_true")
    sim.add_argument("--max-events", type=int, default=None, help="hard cap on drawn events")
    args = parser.parse_args(argv)

    try:
        params = ETASParams.from_file(args.config)
        cat = simulate(
            params,
            args.seed,
            allow_supercritical=args.allow_supercritical,
            max_events=args.max_events,
        )
        cat.to_csv(args.output if args.output is not None else sys.stdout)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = len(cat)
    bg = int(cat.is_background.sum())
    print(
        f"{n} events ({bg} background, {n - bg} aftershocks) over {params.duration:g} days, "
        f"branching ratio {branching_ratio(params):.4f}",
        file=sys.stderr,
    )
    return 0
