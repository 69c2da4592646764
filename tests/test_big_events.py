"""The large Southern California earthquakes stay in the declustered catalog (real data)."""

from __future__ import annotations

import pytest

from lite_decluster.declustered import declustered_rows
from lite_decluster.declustering import label_catalog

#: name -> (UTC day, smallest magnitude that picks the event out on that day)
BIG = {
    "Kern County 1952": ("1952-07-21", 7.0),
    "Landers 1992": ("1992-06-28", 7.0),
    "Northridge 1994": ("1994-01-17", 6.5),
    "Hector Mine 1999": ("1999-10-16", 7.0),
    "El Mayor-Cucapah 2010": ("2010-04-04", 7.0),
    "Ridgecrest 2019": ("2019-07-06", 7.0),
}


def big_rows(raw):
    day = raw["time_utc"].str[:10]
    rows = {}
    for name, (d, m) in BIG.items():
        hit = raw.index[(day == d) & (raw["mag"] >= m)]
        assert len(hit) == 1, name
        rows[name] = int(hit[0])
    return rows


@pytest.mark.parametrize("method", ["forest", "nnd-threshold", "gardner-knopoff", "reasenberg"])
def test_big_events_are_mainshocks(shared_data, method):
    done = label_catalog(shared_data / "scsn_socal_1932_2026_M2.5.csv", method=method)
    frame = done.labels.frame()
    keep = declustered_rows(done.labels, "mainshocks")
    for name, row in big_rows(done.raw).items():
        assert frame.loc[row, "cluster_role"] == "mainshock", (name, frame.loc[row].to_dict())
        assert keep[row], name
