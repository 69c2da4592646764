"""Selections (time span, lon/lat box or polygon, depth) and completeness periods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _fixtures import EXAMPLE

from lite_decluster.catalog import CatalogError
from lite_decluster.completeness import parse_mc_periods
from lite_decluster.declustering import decluster
from lite_decluster.selection import in_box, in_polygon, make_selection, parse_region


def test_box_across_the_antimeridian():
    lon = np.array([179.5, -179.5, 0.0, 170.0, 185.0])
    lat = np.zeros(5)
    assert in_box(lon, lat, (175.0, -175.0, -1.0, 1.0)).tolist() == [True, True, False, False,
                                                                       True]
    assert in_box(lon, lat, (-10.0, 10.0, -1.0, 1.0)).tolist() == [False, False, True, False,
                                                                     False]


def test_polygon_matches_a_point_by_point_ray_cast():
    rng = np.random.default_rng(3)
    poly = np.array([[0, 0], [4, 0], [4, 3], [2, 1], [0, 3]], dtype=float)  # not convex
    lon, lat = rng.uniform(-1, 5, 2000), rng.uniform(-1, 4, 2000)
    got = in_polygon(lon, lat, poly)
    for x, y, g in zip(lon, lat, got, strict=True):
        inside = False
        for k in range(len(poly)):
            (x1, y1), (x2, y2) = poly[k], poly[(k + 1) % len(poly)]
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        assert g == inside


def test_polygon_file(tmp_path):
    f = tmp_path / "poly.txt"
    f.write_text("# lon lat\n-118 33\n-116, 33\n-116 35\n-118 35\n-118 33\n")
    poly = parse_region(str(f))
    assert poly.shape == (4, 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("-118 33\nnot a vertex\n")
    with pytest.raises(CatalogError, match="bad.txt: line 2"):
        parse_region(str(bad))


def test_selection_rows_keep_their_reasons():
    full = decluster(EXAMPLE, mc=2.7, b=1.0)
    out = decluster(EXAMPLE, mc=2.7, b=1.0, start="2002", end="2008-01-01",
                    region="-119,-116.5,33,36", max_depth=15)
    assert len(out) == len(full)  # every input row is kept
    t = pd.to_datetime(full["time"], utc=True)
    lon, lat, depth = full["longitude"], full["latitude"], full["depth"]
    inside = ((t >= pd.Timestamp("2002-01-01", tz="UTC")) & (t < pd.Timestamp("2008-01-01",
              tz="UTC")) & lon.between(-119, -116.5) & lat.between(33, 36) & (depth <= 15))
    labelled = out["label"].notna()
    eligible = full["label"].notna() | full["reason"].str.startswith("below Mc").fillna(False)
    assert (labelled == (inside & full["label"].notna())).all()
    reason = out["reason"].fillna("")
    assert reason[eligible & ~inside].str.startswith("outside selection").all()
    quake = full["type"] == "earthquake"
    assert out.attrs["run"]["n_selection_dropped"] == int((~inside & quake).sum())


def test_mc_periods():
    p = parse_mc_periods("1932:4.0,1975:3.0,1981-07-01:2.5")
    assert p.values == (4.0, 3.0, 2.5)
    assert p.starts[2] == pd.Timestamp("1981-07-01", tz="UTC")
    t = pd.Series(pd.to_datetime(["1931-12-31", "1932-01-01", "1980-01-01", "1990-01-01"],
                                 utc=True))
    assert p.period_of(t).tolist() == [-1, 0, 1, 2]
    for bad, msg in (("1981:x", "not a number"), ("1981:3,1975:2", "increase"),
                     ("nowhere.txt", "periods or a file")):
        with pytest.raises(CatalogError, match=msg):
            parse_mc_periods(bad)


def test_time_varying_mc_in_a_run():
    out = decluster(EXAMPLE, mc="2000:3.0,2005:2.7", b=1.0)
    t = pd.to_datetime(out["time"], utc=True)
    m = out["mag"]
    quake = out["type"] == "earthquake"
    mc = np.where(t < pd.Timestamp("2005-01-01", tz="UTC"), 3.0, 2.7)
    assert (out["label"].notna() == (quake & (m >= mc - 1e-9))).all()
    r = out.loc[quake & (m < mc - 1e-9), "reason"]
    assert set(r) <= {"below Mc 3 (period from 2000)", "below Mc 2.7 (period from 2005)",
                      "below Mc: candidate parent only"}
    # the candidate parents are the events within 0.5 below their period's Mc
    pool = quake & (m < mc - 1e-9) & (m >= mc - 0.5 - 1e-9)
    assert (out.loc[pool, "reason"] == "below Mc: candidate parent only").all()
    far = quake & (m < mc - 0.5 - 1e-9)
    assert (out.loc[far, "reason"] != "below Mc: candidate parent only").all()
    assert out.attrs["run"]["mc_method"].startswith("periods")


def test_bad_selection():
    with pytest.raises(CatalogError, match="before"):
        make_selection("2005", "2001")
    with pytest.raises(CatalogError, match="latitudes"):
        make_selection(region="0,1,5,2")
    with pytest.raises(CatalogError, match="no event"):
        decluster(EXAMPLE, region="10,11,10,11")
