"""Real-world inputs the reader used to refuse or misread (issue 14, item 2), and QuakeML input.

Each test writes a small synthetic file: decimal years in a column named ``time``, a
``time_string`` column, GeoNet's columns and magnitude-type columns (``MLv``, ``MLNZ20``), a type
column of magnitude types, depths in metres or negative downwards, errors that name the option
that fixes them, a 1-event catalog's error naming the file, and QuakeML 1.2 files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fixtures import shipped
from typer.testing import CliRunner

from lite_decluster import cli
from lite_decluster.catalog import CatalogError, load_catalog
from lite_decluster.pipeline import select_events


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name the file as given: 'cat.csv'


def write(tmp_path: Path, text: str, name: str = "cat.csv") -> Path:
    (tmp_path / name).write_text(text)
    return Path(name)


def decimal_year(value: float) -> pd.Timestamp:
    year = int(value)
    start = pd.Timestamp(f"{year}-01-01", tz="UTC")
    length = pd.Timestamp(f"{year + 1}-01-01", tz="UTC") - start
    return start + (value - year) * length


# ---------------------------------------------------------------------------------------------
# Times


@pytest.mark.parametrize("override", [None, "time"])
def test_decimal_years_in_a_time_column(tmp_path: Path, override: str | None) -> None:
    path = write(tmp_path, "time,lat,lon,depth,mag\n2025.36854936,1,2,3,4\n2025.5,1,2,3,4.5\n")
    loaded = load_catalog(path, time=override)
    got = list(loaded.table["time"])
    assert abs(got[0] - decimal_year(2025.36854936)) < pd.Timedelta("1us")
    assert got[1] == decimal_year(2025.5)
    assert any("decimal years" in n for n in loaded.report.notes)
    assert any("decimal years" in line for line in loaded.report.lines())


def test_decimal_years_column_with_text_later_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lite_decluster.catalog.source as source

    monkeypatch.setattr(source, "_BLOCK_BYTES", 40)  # the text in the second block
    path = write(tmp_path, "time,lat,lon,depth,mag\n2025.5,1,2,3,4\nsoon,1,2,3,4\n", "d.csv")
    with pytest.raises(CatalogError, match=r"d\.csv, line 3, column 'time': decimal year 'soon'"):
        load_catalog(path)


def test_time_column_named_time_string(tmp_path: Path) -> None:
    path = write(tmp_path, "time_string,lat,lon,depth,mag\n2020-01-02T03:04:05Z,1,2,3,4\n")
    loaded = load_catalog(path)
    assert list(loaded.table["time"]) == [pd.Timestamp("2020-01-02T03:04:05Z")]
    assert loaded.report.columns["time"] == "time_string"


# ---------------------------------------------------------------------------------------------
# Magnitudes, ids and types

GEONET = (
    "publicid,eventtype,origintime,modificationtime,longitude,latitude,magnitude,depth,"
    "magnitudetype,depthtype,evaluationmethod,evaluationstatus,evaluationmode,earthmodel,"
    "usedphasecount,usedstationcount,magnitudestationcount,minimumdistance,azimuthalgap,"
    "originerror,magnitudeuncertainty\n"
    "2016p858000,earthquake,2016-11-13T11:02:56.346Z,2023-01-19T02:22:40.183Z,173.0210,"
    "-42.6925,7.8,15.1,Mw,,NonLinLoc,reviewed,manual,nz3drx,246,140,110,0.11,35.5,0.6,0.1\n"
    "2016p858001,earthquake,2016-11-13T11:03:10.012Z,2023-01-19T02:22:40.183Z,173.1,"
    "-42.5,5.1,9.0,MLv,,LOCSAT,,automatic,iasp91,20,12,9,0.2,90.1,1.0,0.2\n"
)


def test_geonet_csv(tmp_path: Path) -> None:
    loaded = load_catalog(write(tmp_path, GEONET, "geonet.csv"))
    t = loaded.table
    assert list(t["event_id"]) == ["2016p858000", "2016p858001"]
    assert list(t["magnitude"]) == [7.8, 5.1]
    assert list(t["longitude"]) == [173.021, 173.1] and list(t["depth"]) == [15.1, 9.0]
    assert t["time"].iloc[0] == pd.Timestamp("2016-11-13T11:02:56.346Z")
    assert loaded.report.columns["time"] == "origintime"


@pytest.mark.parametrize("column", ["MLv", "MLNZ20", "mb_Lg", "Mww"])
def test_magnitude_column_named_as_a_magnitude_type(tmp_path: Path, column: str) -> None:
    path = write(tmp_path, f"origintime,latitude,longitude,depth,{column}\n"
                           "2020-01-01T00:00:00Z,-41,174,10,3.25\n")
    loaded = load_catalog(path)
    assert list(loaded.table["magnitude"]) == [3.25]
    assert loaded.report.columns["magnitude"] == column


def test_several_magnitude_columns_are_listed_with_the_option(tmp_path: Path) -> None:
    path = write(tmp_path, "origintime,latitude,longitude,depth,MLv,MLNZ20\n"
                           "2020-01-01T00:00:00Z,-41,174,10,3.2,3.0\n", "nz.csv")
    with pytest.raises(CatalogError,
                       match=r"^nz\.csv: several magnitude columns \(MLv, MLNZ20\).*--mag-col"):
        load_catalog(path)
    assert list(load_catalog(path, magnitude="MLNZ20").table["magnitude"]) == [3.0]


def test_a_generic_magnitude_column_is_preferred_to_typed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,MLv,mag,Mw\n2020-01-01,1,2,3.2,3.5,3.9\n")
    assert list(load_catalog(path).table["magnitude"]) == [3.5]


@pytest.mark.parametrize("header", ["time,latitude,longitude,depth,mag,type",
                                    "time,latitude,longitude,depth,mag,magType,type"])
def test_type_column_of_magnitude_types_is_not_an_event_type(tmp_path: Path, header: str) -> None:
    extra = ",x" if "magType" in header else ""
    rows = "".join(f"2020-01-0{i + 1}T00:00:00Z,34,-117,5,{3 + i / 10}{extra},{k}\n"
                   for i, k in enumerate(["ML", "mb", "Mw", "Md", "mb_Lg"]))
    loaded = load_catalog(write(tmp_path, header + "\n" + rows))
    assert len(loaded.table) == 5 and "event_type" not in loaded.table
    assert loaded.report.n_type_dropped == 0
    assert any("magnitude types" in n for n in loaded.report.notes)


def test_type_column_of_magnitude_types_given_with_the_option(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag,type\n2020-01-01,34,-117,3,ML\n", "t.csv")
    with pytest.raises(CatalogError, match=r"^t\.csv: no rows left after the type filter .*"
                                           r"column 'type' holds magnitude types"):
        load_catalog(path, event_type="type")


def test_event_types_still_filter(tmp_path: Path) -> None:
    path = write(tmp_path, "time,latitude,longitude,depth,mag,type\n"
                           "2020-01-01,34,-117,5,3,earthquake\n"
                           "2020-01-02,34,-117,5,3,quarry blast\n")
    loaded = load_catalog(path)
    assert len(loaded.table) == 1 and loaded.report.n_type_dropped == 1 and not loaded.report.notes


# ---------------------------------------------------------------------------------------------
# Depths

HEAD = "time,lat,lon,{depth},mag\n"


def rows(depths: list[float]) -> str:
    return "".join(f"2020-01-{i + 1:02d},1,2,{d},3\n" for i, d in enumerate(depths))


def test_depth_column_named_in_metres(tmp_path: Path) -> None:
    loaded = load_catalog(write(tmp_path, HEAD.format(depth="depth_m") + rows([5000, 300])))
    assert list(loaded.table["depth"]) == [5.0, 0.3]
    assert any("metres" in n for n in loaded.report.notes)


def test_depths_too_deep_for_km_are_metres(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD.format(depth="depth") + rows([5000, 12000, 800]))
    loaded = load_catalog(path)
    assert list(loaded.table["depth"]) == [5.0, 12.0, 0.8]
    assert any("read as metres" in n and "--depth-unit km" in n for n in loaded.report.notes)
    assert list(load_catalog(path, depth_unit="km").table["depth"]) == [5000, 12000, 800]


def test_depths_negative_downwards_are_flipped(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD.format(depth="depth") + rows([-5, -12.5, 0.5, -3]))
    loaded = load_catalog(path)
    assert list(loaded.table["depth"]) == [5.0, 12.5, -0.5, 3.0]
    assert any("negative downwards" in n for n in loaded.report.notes)
    assert list(load_catalog(path, depth_positive="down").table["depth"]) == [-5, -12.5, 0.5, -3]


def test_a_few_negative_depths_stay(tmp_path: Path) -> None:
    loaded = load_catalog(write(tmp_path, HEAD.format(depth="depth") + rows([-0.5, 3, 8])))
    assert list(loaded.table["depth"]) == [-0.5, 3, 8] and not loaded.report.notes


def test_bad_depth_unit(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="depth unit must be"):
        load_catalog(write(tmp_path, HEAD.format(depth="depth") + rows([1])), depth_unit="ft")


# ---------------------------------------------------------------------------------------------
# Errors name the option that fixes them


@pytest.mark.parametrize("header,option", [
    ("when,lat,lon,mag", "--time-col"),
    ("time,north,lon,mag", "--lat-col"),
    ("time,lat,east,mag", "--lon-col"),
    ("time,lat,lon,size", "--mag-col"),
])
def test_missing_column_names_the_option(tmp_path: Path, header: str, option: str) -> None:
    path = write(tmp_path, header + "\n2020-01-01,1,2,3\n", "m.csv")
    found = header.replace(",", ", ")
    with pytest.raises(CatalogError, match=rf"^m\.csv: no .*columns found: {found}.*{option}"):
        load_catalog(path)


@pytest.mark.parametrize("canon,option", [
    ("time", "--time-col"), ("latitude", "--lat-col"), ("longitude", "--lon-col"),
    ("depth", "--depth-col"), ("magnitude", "--mag-col"), ("event_id", "--id-col"),
    ("event_type", "--type-col"),
])
def test_absent_given_column_names_the_option(tmp_path: Path, canon: str, option: str) -> None:
    path = write(tmp_path, "time,lat,lon,depth,mag\n2020-01-01,1,2,3,4\n", "g.csv")
    with pytest.raises(CatalogError, match=rf"^g\.csv: column 'nothere' \(given for {canon} "
                                           rf"with {option}\) not found; columns found: time"):
        load_catalog(path, **{canon: "nothere"})


# ---------------------------------------------------------------------------------------------
# Catalogs left with too few events: the error names the file


ONE = "time,lat,lon,depth,mag\n2020-01-01T00:00:00Z,34,-117,5,3.0\n"


@pytest.mark.parametrize("mc,words", [
    ("auto", "no events with magnitude >= Mc"),
    (None, "cannot estimate b: 1 event"),
    (9.0, "no events with magnitude >= Mc 9"),
])
def test_one_event_catalog_error_names_the_file(tmp_path: Path, mc: object, words: str) -> None:
    path = write(tmp_path, ONE, "one.csv")
    table = load_catalog(path).table
    with pytest.raises(CatalogError) as err:
        select_events(table, mc=mc)
    assert str(err.value).startswith(f"{path}: ") and words in str(err.value)


def test_one_event_catalog_on_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, ONE, "one.csv")
    res = CliRunner().invoke(cli.app, ["run", str(path), "--method", "nnd-threshold",
                                       "-o", str(tmp_path / "out.csv")])
    assert res.exit_code == 2
    assert f"lite-decluster: error: {path}: no events with magnitude >= Mc" in res.output


# ---------------------------------------------------------------------------------------------
# QuakeML

QUAKEML = """<?xml version="1.0" encoding="UTF-8"?>
<q:quakeml xmlns="http://quakeml.org/xmlns/bed/1.2" xmlns:q="http://quakeml.org/xmlns/quakeml/1.2">
  <eventParameters publicID="smi:local/catalog">
    <event publicID="smi:local/event/1">
      <preferredOriginID>smi:local/origin/1b</preferredOriginID>
      <preferredMagnitudeID>smi:local/mag/1b</preferredMagnitudeID>
      <type>earthquake</type>
      <origin publicID="smi:local/origin/1a">
        <time><value>2019-07-06T03:19:50.000000Z</value></time>
        <latitude><value>35.0</value></latitude>
        <longitude><value>-117.0</value></longitude>
        <depth><value>1000.0</value></depth>
      </origin>
      <origin publicID="smi:local/origin/1b">
        <time><value>2019-07-06T03:19:53.040000Z</value></time>
        <latitude><value>35.7695</value></latitude>
        <longitude><value>-117.5993333</value></longitude>
        <depth><value>8000.0</value><uncertainty>500</uncertainty></depth>
      </origin>
      <magnitude publicID="smi:local/mag/1a">
        <mag><value>6.9</value></mag><type>ml</type><originID>smi:local/origin/1a</originID>
      </magnitude>
      <magnitude publicID="smi:local/mag/1b">
        <mag><value>7.1</value></mag><type>Mw</type><originID>smi:local/origin/1b</originID>
      </magnitude>
    </event>
    <event publicID="smi:local/event/2">
      <type>earthquake</type>
      <origin publicID="smi:local/origin/2">
        <time><value>2019-07-06T04:00:00.500000Z</value></time>
        <latitude><value>35.8</value></latitude>
        <longitude><value>-117.6</value></longitude>
        <depth><value>4500</value></depth>
      </origin>
      <magnitude publicID="smi:local/mag/2">
        <mag><value>4.2</value></mag><type>ML</type><originID>smi:local/origin/2</originID>
      </magnitude>
    </event>
    <event publicID="smi:local/event/3">
      <preferredOriginID>smi:local/origin/3</preferredOriginID>
      <type>quarry blast</type>
      <origin publicID="smi:local/origin/3">
        <time><value>2019-07-06T05:00:00Z</value></time>
        <latitude><value>34.0</value></latitude>
        <longitude><value>-117.0</value></longitude>
        <depth><value>0</value></depth>
      </origin>
      <magnitude publicID="smi:local/mag/3"><mag><value>2.1</value></mag></magnitude>
    </event>
  </eventParameters>
</q:quakeml>
"""


@pytest.mark.parametrize("name", ["events.xml", "events.quakeml", "events.txt"])
def test_quakeml(tmp_path: Path, name: str) -> None:
    loaded = load_catalog(write(tmp_path, QUAKEML, name))
    t = loaded.table
    assert list(t["event_id"]) == ["smi:local/event/1", "smi:local/event/2"]
    # Event 1: the preferred origin and magnitude, not the first ones; depth m -> km.
    assert t["time"].iloc[0] == pd.Timestamp("2019-07-06T03:19:53.04Z")
    assert np.allclose(t[["latitude", "longitude", "depth", "magnitude"]].iloc[0],
                       [35.7695, -117.5993333, 8.0, 7.1])
    # Event 2 has no preferred origin or magnitude: its (only) ones.
    assert np.allclose(t[["latitude", "depth", "magnitude"]].iloc[1], [35.8, 4.5, 4.2])
    assert list(t["line"]) == [1, 2]  # QuakeML: the event's 1-based position
    assert loaded.report.n_rows == 3 and loaded.report.type_counts == {"quarry blast": 1}
    assert loaded.report.format == "quakeml"
    assert list(loaded.raw["magnitude_type"]) == ["Mw", "ML", pd.NA]


def test_quakeml_invalid_value_names_the_event(tmp_path: Path) -> None:
    text = QUAKEML.replace("<value>35.8</value>", "<value>north</value>")
    with pytest.raises(CatalogError,
                       match=r"q\.xml, event 2, column 'latitude': latitude 'north' is not a"):
        load_catalog(write(tmp_path, text, "q.xml"))


def test_quakeml_not_well_formed(tmp_path: Path) -> None:
    text = QUAKEML.replace('</origin>\n      <magnitude publicID="smi:local/mag/2">', "<origin>")
    with pytest.raises(CatalogError, match=r"q\.xml, line \d+, column \d+: not well-formed XML"):
        load_catalog(write(tmp_path, text, "q.xml"))


def test_xml_that_is_not_quakeml(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"x\.xml: not QuakeML"):
        load_catalog(write(tmp_path, "<?xml version='1.0'?><svg></svg>\n", "x.xml"))
    with pytest.raises(CatalogError, match=r"c\.csv: not QuakeML"):
        load_catalog(write(tmp_path, HEAD.format(depth="depth") + rows([1]), "c.csv"),
                     format="quakeml")


@shipped
def test_quakeml_on_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, QUAKEML, "events.xml")
    res = CliRunner().invoke(cli.app, ["run", str(path), "--mc", "none", "--b", "1",
                                       "-o", "out.csv", "--declustered", "decl.csv"])
    assert res.exit_code == 0, res.output
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out["event_id"]) == ["smi:local/event/1", "smi:local/event/2",
                                     "smi:local/event/3"]
    # The declustered catalog: the events' rows as CSV (QuakeML has no records to copy).
    decl = pd.read_csv(tmp_path / "decl.csv")
    assert {"event_id", "time", "magnitude", "depth"} <= set(decl.columns)
    assert set(decl["event_id"]) <= set(out["event_id"]) and len(decl) >= 1
