"""Build the bundled example catalog ``lite_decluster/data/example_catalog.csv``.

``python -m export example [-o PATH] [--seed N]`` simulates a synthetic ETAS catalog with the
project's own simulator (``export.etas``) and writes it in the layout of a USGS ComCat CSV
export, so that users can try ``lite-decluster run`` on a file that looks like a real one and
check the result against the truth:

- ``time``: UTC, ISO 8601 with milliseconds and ``Z``, ten years from 2000-01-01;
- ``latitude``, ``longitude``: degrees (4 decimals), a 300 km x 300 km region centred on
  35 N, 118 W; the simulator's x/y (km east/north of the region's south-west corner) are
  mapped with the inverse azimuthal equidistant projection about the centre on a sphere of
  radius 6371 km (distances from the centre exact, others within 0.1 % here);
- ``depth``: km (2 decimals), uniform between 2 and 15 km;
- ``mag``: magnitudes binned to 0.1 (lower bin edge), complete from 2.5; ``magType``: ``ml``;
- ``id``: ``ex`` and 8 digits, in time order; ``type``: ``earthquake``, plus a few
  ``quarry blast`` rows (daytime, at two quarries) that the default type filter removes;
- ``true_label``: ``background`` or ``aftershock`` (ETAS generation 0 or > 0; empty for
  blasts); ``true_parent_id``: the ``id`` of the triggering event when it is in the catalog
  (empty for background events, blasts, and aftershocks of events outside the region/window).

The output is deterministic for a given seed (the default one is what ships).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from export.etas import ETASParams, branching_ratio, simulate

__all__ = ["DEFAULT_OUTPUT", "DEFAULT_SEED", "build_example", "cli", "main", "to_lonlat"]

DEFAULT_SEED = 2021
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "lite_decluster" / "data" / (
    "example_catalog.csv"
)
CONFIG = Path(__file__).resolve().parent / "configs" / "italy.json"

ORIGIN_LAT, ORIGIN_LON = 35.0, -118.0  # centre of the region, degrees
START = pd.Timestamp("2000-01-01T00:00:00Z")
YEARS = 10
EARTH_RADIUS_KM = 6371.0
QUARRIES = ((34.52, -117.30), (35.39, -118.91))  # lat, lon of the two blast sites
N_BLASTS = 40


def to_lonlat(
    east_km: np.ndarray, north_km: np.ndarray, lat0: float = ORIGIN_LAT, lon0: float = ORIGIN_LON
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse azimuthal equidistant projection on a sphere of radius 6371 km.

    ``east_km``, ``north_km``: offsets (km) from the centre (lat0, lon0 in degrees), shape (n,).
    Returns (longitude, latitude) in degrees, each shape (n,), longitude in [-180, 180).
    """
    phi0, lam0 = np.radians(lat0), np.radians(lon0)
    delta = np.hypot(east_km, north_km) / EARTH_RADIUS_KM  # angular distance from the centre
    theta = np.arctan2(east_km, north_km)  # azimuth, clockwise from north
    sin_phi = np.sin(phi0) * np.cos(delta) + np.cos(phi0) * np.sin(delta) * np.cos(theta)
    phi = np.arcsin(np.clip(sin_phi, -1.0, 1.0))
    lam = lam0 + np.arctan2(
        np.sin(theta) * np.sin(delta) * np.cos(phi0), np.cos(delta) - np.sin(phi0) * sin_phi
    )
    lon = (np.degrees(lam) + 180.0) % 360.0 - 180.0
    return lon, np.degrees(phi)


def _params() -> ETASParams:
    """Italy-like ETAS parameters with a lower background rate (a catalog of ~8k events)."""
    base = ETASParams.from_file(CONFIG)
    return replace(
        base, mu=0.4, duration=365.25 * YEARS, magnitude_bin=0.1, depth_range=(2.0, 15.0)
    )


def _iso(times: pd.Series) -> pd.Series:
    """UTC times as ComCat writes them: 2000-01-01T00:00:00.000Z."""
    return times.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str.slice(0, 23) + "Z"


def _blasts(rng: np.random.Generator, duration_days: float) -> pd.DataFrame:
    """Quarry blasts: weekday daytime (18-23 UTC is 10-15 PST) at two sites, M 2.5-3.0."""
    days = np.sort(rng.uniform(0.0, duration_days, N_BLASTS)).astype(int).astype(float)
    weekday = (START + pd.to_timedelta(days, unit="D")).day_of_week.to_numpy()
    days = np.where(weekday >= 5, days + (7 - weekday), days)  # move weekend blasts to Monday
    hours = rng.uniform(18.0, 23.0, N_BLASTS)
    site = rng.integers(0, len(QUARRIES), N_BLASTS)
    lat = np.array([QUARRIES[s][0] for s in site]) + rng.normal(0.0, 0.005, N_BLASTS)
    lon = np.array([QUARRIES[s][1] for s in site]) + rng.normal(0.0, 0.005, N_BLASTS)
    return pd.DataFrame({
        "t_days": days + hours / 24.0,
        "latitude": lat,
        "longitude": lon,
        "depth": np.round(rng.uniform(0.0, 1.0, N_BLASTS), 2),
        "mag": np.round(rng.uniform(2.5, 3.0, N_BLASTS), 1),
        "type": "quarry blast",
        "true_label": "",
        "sim_index": -1,
        "sim_parent": -1,
    })


def build_example(seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The example catalog as a DataFrame (columns as in the module docstring), time-sorted."""
    params = _params()
    cat = simulate(params, seed)
    ev = cat.events
    lon, lat = to_lonlat(ev["x"] - params.Lx / 2.0, ev["y"] - params.Ly / 2.0)
    quakes = pd.DataFrame({
        "t_days": ev["time"],
        "latitude": lat,
        "longitude": lon,
        "depth": np.round(ev["depth"], 2),
        "mag": np.round(ev["magnitude"], 1),
        "type": "earthquake",
        "true_label": np.where(cat.is_background, "background", "aftershock"),
        "sim_index": np.arange(len(cat)),
        "sim_parent": ev["parent"],  # index of the parent in the observed catalog, -1: none
    })
    rng = np.random.default_rng(seed + 1)
    both = pd.concat([quakes, _blasts(rng, params.duration)], ignore_index=True)
    both = both.sort_values("t_days", kind="stable").reset_index(drop=True)

    ids = pd.Series([f"ex{i + 1:08d}" for i in range(len(both))])
    sim = both["sim_index"].to_numpy()
    id_of_sim = np.empty(len(cat), dtype=object)  # observed-catalog index -> id
    id_of_sim[sim[sim >= 0]] = ids.to_numpy()[sim >= 0]
    parent = both["sim_parent"].to_numpy()
    parent_id = np.where(parent >= 0, id_of_sim[np.maximum(parent, 0)], "")
    # Whole milliseconds, as ComCat reports them.
    times = START + pd.to_timedelta(np.round(both["t_days"].to_numpy() * 86_400_000), unit="ms")
    return pd.DataFrame({
        "time": _iso(pd.Series(times)),
        "latitude": both["latitude"].round(4),
        "longitude": both["longitude"].round(4),
        "depth": both["depth"],
        "mag": both["mag"],
        "magType": "ml",
        "id": ids,
        "type": both["type"],
        "true_label": both["true_label"],
        "true_parent_id": parent_id,
    })


def write_example(path: str | os.PathLike[str] = DEFAULT_OUTPUT, seed: int = DEFAULT_SEED) -> Path:
    """Write the example CSV atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    table = build_example(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            table.to_csv(fh, index=False, lineterminator="\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def cli(argv: list[str] | None = None) -> int:
    """``python -m export example [-o PATH] [--seed N]``; returns an exit code.

    ``argv``: the arguments after ``example`` (a leading ``example`` is accepted too).
    """
    parser = argparse.ArgumentParser(
        prog="python -m export example",
        description="Write the bundled example catalog (synthetic ETAS, ComCat-like CSV).",
    )
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"CSV path (default {DEFAULT_OUTPUT})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"random seed (default {DEFAULT_SEED})")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["example"]:  # called as 'python -m export example ...' with the full argv
        argv = argv[1:]
    args = parser.parse_args(argv)
    try:
        path = write_example(args.output, args.seed)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table = pd.read_csv(path, keep_default_na=False)
    quakes = table[table["type"] == "earthquake"]
    n_bg = int((quakes["true_label"] == "background").sum())
    print(
        f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB): {len(quakes)} earthquakes "
        f"({n_bg} background, {len(quakes) - n_bg} aftershocks, M {quakes['mag'].min():.1f}-"
        f"{quakes['mag'].max():.1f}), {len(table) - len(quakes)} quarry blasts; ETAS branching "
        f"ratio {branching_ratio(_params()):.3f}",
        file=sys.stderr,
    )
    return 0


def main() -> None:
    """Console entry: exit with :func:`cli`'s code."""
    sys.exit(cli())


if __name__ == "__main__":
    main()
