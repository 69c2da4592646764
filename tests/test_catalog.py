"""Tests of lite_decluster.catalog: formats, times, validation messages and the real catalogs.

Expected values are worked out by hand (or with the standard library's datetime) from the
fixture text, never taken from the code under test.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lite_decluster.catalog import (
    CatalogError,
    CatalogReport,
    LoadedCatalog,
    apply_completeness,
    load_catalog,
    read_catalog,
)


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def write(tmp_path: Path, text: str, name: str = "cat.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def times(table: pd.DataFrame) -> list[pd.Timestamp]:
    return list(table["time"])


# ---------------------------------------------------------------------------------------------
# The known formats


def test_comcat(data_dir: Path) -> None:
    loaded = load_catalog(data_dir / "comcat_small.csv")
    t, rep = loaded.table, loaded.report
    assert rep.format == "comcat"
    assert rep.n_rows == 3 and rep.n_events == 2
    assert rep.n_type_dropped == 1 and rep.type_counts == {"quarry blast": 1}
    assert not rep.was_sorted  # ComCat lists newest first
    assert times(t) == [ts("2025-05-14T08:00:00"), ts("2025-05-15T12:29:32.748")]
    assert list(t["row"]) == [2, 0] and list(t["line"]) == [4, 2]
    assert list(t["latitude"]) == [36.5, 41.2158]
    assert list(t["longitude"]) == [-121.1, -116.7283]
    assert list(t["depth"]) == [-0.5, 5.7]  # above sea level is allowed
    assert list(t["magnitude"]) == [2.8, 3.1]
    assert list(t["event_id"]) == ["nc75000001", "nn00897646"]
    assert list(t["event_type"]) == ["earthquake", "earthquake"]
    assert str(t["time"].dtype) == "datetime64[ns, UTC]"
    assert list(t.index) == [0, 1]
    # the quoted place with commas stays one field
    assert loaded.raw["place"].tolist()[1] == "3 km N of Fontana, CA, USA"
    assert loaded.dropped.to_dict("list") == {
        "row": [1], "reason": ["not an earthquake (quarry blast)"]
    }
    assert rep.columns["magnitude"] == "mag" and rep.columns["event_id"] == "id"


def test_scsn_rollovers_sorting_duplicates(data_dir: Path) -> None:
    loaded = load_catalog(data_dir / "scsn_small.csv")
    t, rep = loaded.table, loaded.report
    assert rep.format == "scsn"
    assert rep.n_rows == 6 and rep.n_events == 5
    assert rep.type_counts == {"qb": 1}
    assert rep.n_time_rollovers == 3
    assert rep.n_duplicates == 1
    assert not rep.was_sorted
    assert times(t) == [
        ts("1976-09-03T12:30:15.25"),
        ts("1976-09-03T12:30:15.25"),
        ts("1976-09-04T00:00:00"),  # written 1976-09-03T24:00:00.00
        ts("1976-09-04T02:43:00.99"),  # written 1976-09-04T02:42:60.99
        ts("1977-01-01T00:00:00.5"),  # written 1976-12-31T23:59:60.50
    ]
    assert list(t["row"]) == [3, 4, 2, 0, 5]  # stable: equal times keep input order
    assert list(t["line"]) == [5, 6, 4, 2, 7]
    assert list(t["event_id"]) == ["145248", "145247", "145249", "145251", "145300"]
    # row links back to the raw input
    assert loaded.raw["evid"].iloc[t["row"]].astype(str).tolist() == list(t["event_id"])
    assert loaded.dropped["reason"].tolist() == ["not an earthquake (qb)"]
    assert any("rolled over 3 times" in line for line in rep.lines())


def test_ingv(data_dir: Path) -> None:
    loaded = load_catalog(data_dir / "ingv_small.txt")
    t, rep = loaded.table, loaded.report
    assert rep.format == "ingv"
    assert rep.n_rows == 3 and rep.n_events == 2 and rep.type_counts == {"landslide": 1}
    assert times(t) == [ts("1985-01-04T16:57:40.24"), ts("1985-01-04T23:59:54.82")]
    assert list(t["event_id"]) == ["199", "229"]
    assert list(t["line"]) == [2, 3]  # the '#' header is line 1
    assert list(t["depth"]) == [10.0, 5.0] and list(t["magnitude"]) == [3.8, 3.7]
    assert rep.columns["depth"] == "Depth/Km" and rep.columns["event_id"] == "EventID"
    assert "EventID" in loaded.raw.columns


def test_event_types_none_keeps_everything(data_dir: Path) -> None:
    loaded = load_catalog(data_dir / "ingv_small.txt", event_types=None)
    assert loaded.report.n_events == 3 and loaded.report.n_type_dropped == 0
    assert loaded.dropped.empty


def test_custom_event_types(data_dir: Path) -> None:
    t = load_catalog(data_dir / "scsn_small.csv", event_types=["QB"]).table
    assert list(t["row"]) == [1]


@pytest.mark.parametrize("suffix,opener", [(".gz", gzip.open), (".xz", lzma.open),
                                           (".bz2", bz2.open)])
def test_compressed(tmp_path: Path, data_dir: Path, suffix: str, opener) -> None:
    path = tmp_path / f"scsn_small.csv{suffix}"
    with opener(path, "wb") as fh:
        fh.write((data_dir / "scsn_small.csv").read_bytes())
    t = load_catalog(path).table
    assert list(t["row"]) == [3, 4, 2, 0, 5] and list(t["line"]) == [5, 6, 4, 2, 7]


def test_format_override_and_unknown_format(data_dir: Path) -> None:
    # as a generic file the SCSN columns are still found through the aliases
    loaded = load_catalog(data_dir / "scsn_small.csv", format="generic")
    assert loaded.report.format == "generic" and loaded.report.n_events == 5
    with pytest.raises(CatalogError, match="unknown format 'isf'"):
        load_catalog(data_dir / "scsn_small.csv", format="isf")
    # quakeml is a format now, and a CSV file is not QuakeML
    with pytest.raises(CatalogError, match="scsn_small.csv: not QuakeML"):
        load_catalog(data_dir / "scsn_small.csv", format="quakeml")


# ---------------------------------------------------------------------------------------------
# Generic text


@pytest.mark.parametrize(
    "names",
    [
        ("time", "latitude", "longitude", "depth", "magnitude"),
        ("origin_time", "lat", "lon", "depth_km", "mag"),
        ("DateTime", "LAT", "Long", "dep", "ML"),
        ("date_time", "Latitude", "lng", "Depth", "Mw"),
        ("otime", "lat", "lon", "depth", "m"),
    ],
)
def test_generic_name_variants(tmp_path: Path, names: tuple[str, ...]) -> None:
    path = write(tmp_path, ",".join(names) + "\n"
                 "2001-02-03T04:05:06.5,10.5,20.25,7,3.5\n"
                 "2001-02-03 01:00:00+02:00,-10,350,0,2\n")
    loaded = load_catalog(path)
    t = loaded.table
    assert loaded.report.format == "generic"
    # '01:00:00+02:00' is 23:00 UTC the day before
    assert times(t) == [ts("2001-02-02T23:00:00"), ts("2001-02-03T04:05:06.5")]
    assert list(t["latitude"]) == [-10.0, 10.5]
    assert list(t["longitude"]) == [350.0, 20.25]  # [180, 360) kept as given
    assert list(t["depth"]) == [0.0, 7.0] and list(t["magnitude"]) == [2.0, 3.5]
    assert list(t["line"]) == [3, 2]
    assert "event_id" not in t.columns and "event_type" not in t.columns
    assert loaded.report.columns["magnitude"] == names[4]


@pytest.mark.parametrize("sep", [";", "\t", " ", "|"])
def test_generic_separators(tmp_path: Path, sep: str) -> None:
    rows = [["time", "lat", "lon", "depth", "mag", "id"],
            ["2010-01-01T00:00:00", "1", "2", "3", "4", "a1"],
            ["2010-01-02T00:00:00", "5", "6", "7", "8", "b2"]]
    path = write(tmp_path, "\n".join(sep.join(r) for r in rows) + "\n")
    t = load_catalog(path).table
    assert list(t["magnitude"]) == [4.0, 8.0] and list(t["event_id"]) == ["a1", "b2"]


def test_whitespace_header_with_hash(tmp_path: Path) -> None:
    path = write(tmp_path, "# year month day lat lon mag\n2000 1 2 10 20 3\n")
    t = load_catalog(path).table
    assert times(t) == [ts("2000-01-02")] and list(t["line"]) == [2]


def test_lines_with_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    text = (
        "\n"                                         # line 1: blank before the header
        "time,lat,lon,mag,place\n"                   # line 2: header
        "2000-01-01T00:00:00,1,2,3,a\n"              # line 3: row 0
        "\n"                                         # line 4: blank
        "   \n"                                      # line 5: whitespace only
        '2000-01-02T00:00:00,1,2,3,"two\nlines"\n'   # lines 6-7: row 1
        "2000-01-03T00:00:00,1,2,3,b\n"              # line 8: row 2
        "2000-01-04T00:00:00,1,2,3,c"                # line 9: row 3, no final newline
    )
    t = load_catalog(write(tmp_path, text)).table
    assert list(t["row"]) == [0, 1, 2, 3]
    assert list(t["line"]) == [3, 6, 8, 9]
    with pytest.raises(CatalogError, match=r"cat\.csv, line 8, column 'lat'"):
        load_catalog(write(tmp_path, text.replace("03T00:00:00,1", "03T00:00:00,91")))


def test_trailing_delimiter_does_not_shift_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag\n2000-01-01,1,2,3,\n2000-01-02,4,5,6,\n")
    t = load_catalog(path).table
    assert list(t["latitude"]) == [1.0, 4.0] and list(t["magnitude"]) == [3.0, 6.0]


def test_split_date_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "year,month,day,hour,minute,second,lat,lon,depth,mag\n"
                           "2004,2,29,23,59,60.25,1,2,3,4\n"  # leap day, second 60
                           "1999,12,31,24,0,0,1,2,3,4\n"      # hour 24
                           "2001,7,4,6,7,8.125,1,2,3,4\n")
    loaded = load_catalog(path)
    assert times(loaded.table) == [
        ts("2000-01-01T00:00:00"), ts("2001-07-04T06:07:08.125"), ts("2004-03-01T00:00:00.25")
    ]
    assert loaded.report.n_time_rollovers == 2
    assert loaded.report.columns["time"] == "year,month,day,hour,minute,second"


def test_split_date_without_time_of_day(tmp_path: Path) -> None:
    path = write(tmp_path, "Year,Month,Day,lat,lon,mag\n1990,5,17,1,2,3\n")
    assert times(load_catalog(path).table) == [ts("1990-05-17")]


def test_split_date_invalid_day(tmp_path: Path) -> None:
    path = write(tmp_path, "year,month,day,lat,lon,mag\n2001,1,1,1,2,3\n2001,2,29,1,2,3\n")
    with pytest.raises(CatalogError, match=r"cat\.csv, line 3, column 'day': day 29 does not "
                                           r"exist in 2001-02"):
        load_catalog(path)


def test_date_and_time_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "date,time,lat,lon,mag\n2011-03-11,05:46:24.12,38.3,142.4,9.1\n")
    assert times(load_catalog(path).table) == [ts("2011-03-11T05:46:24.12")]


def _decimal_year_expected(value: float) -> pd.Timestamp:
    # Independent reference: the standard library's datetime arithmetic.
    year = int(value // 1)
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    length = datetime(year + 1, 1, 1, tzinfo=timezone.utc) - start
    return pd.Timestamp(start + length * (value - year))


@pytest.mark.parametrize("column", ["decimal_year", "decyear", "year"])
def test_decimal_years(tmp_path: Path, column: str) -> None:
    path = write(tmp_path, f"{column},lat,lon,mag\n2000.5,1,2,3\n2001.25,1,2,3\n1999,1,2,3\n")
    t = load_catalog(path).table
    # 2000 is a leap year: half of 366 days is 183 days -> July 2, 00:00.
    # 2001 has 365 days: a quarter is 91.25 days -> April 2, 06:00.
    assert times(t) == [ts("1999-01-01"), ts("2000-07-02T00:00:00"), ts("2001-04-02T06:00:00")]
    assert times(t)[1] == _decimal_year_expected(2000.5)


@settings(max_examples=60, deadline=None)
@given(year=st.integers(1900, 2100), fraction=st.floats(0, 1, exclude_max=True))
def test_decimal_year_property(year: int, fraction: float) -> None:
    value = year + fraction
    if value >= year + 1:  # float rounding up to the next year
        return
    frame = pd.DataFrame({"decimal_year": [value], "lat": [0.0], "lon": [0.0], "mag": [1.0]})
    got = load_catalog(frame).table["time"].iloc[0]
    assert abs(got - _decimal_year_expected(value)) <= pd.Timedelta(microseconds=1)


@settings(max_examples=40, deadline=None)
@given(
    base=st.datetimes(datetime(1950, 1, 1), datetime(2050, 1, 1)),
    centis=st.integers(0, 99),
)
def test_second_sixty_is_next_minute(base: datetime, centis: int) -> None:
    minute = base.replace(second=0, microsecond=0)
    text = f"{minute:%Y-%m-%dT%H:%M}:60.{centis:02d}"
    frame = pd.DataFrame({"time": [text], "lat": [0.0], "lon": [0.0], "mag": [1.0]})
    loaded = load_catalog(frame)
    expected = minute + timedelta(minutes=1, milliseconds=10 * centis)
    assert loaded.table["time"].iloc[0] == pd.Timestamp(expected, tz="UTC")
    assert loaded.report.n_time_rollovers == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 50)), min_size=1, max_size=30))
def test_sorting_keeps_the_row_link(events: list[tuple[int, int]]) -> None:
    frame = pd.DataFrame({
        "t": [float(s) / 1000 for s, _ in events],
        "x": [float(m) for _, m in events],
        "y": 0.0,
        "mag": [float(m) / 10 for _, m in events],
    })
    t = load_catalog(frame).table
    order = sorted(range(len(events)), key=lambda i: events[i][0])  # Python's sort is stable
    assert list(t["row"]) == order
    assert list(t["x"]) == [float(events[i][1]) for i in order]
    assert loaded_is_sorted(t["time"].to_numpy())


def loaded_is_sorted(values: np.ndarray) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))


# ---------------------------------------------------------------------------------------------
# Projected catalogs


def test_projected(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,t,mag\n1.5,-2,10.25,3\n0,0,0.5,2.5\n")
    loaded = load_catalog(path)
    t, rep = loaded.table, loaded.report
    assert rep.format == "projected"
    assert list(t.columns[:5]) == ["time", "x", "y", "depth", "magnitude"]
    assert t["time"].dtype == np.float64 and list(t["time"]) == [0.5, 10.25]
    assert list(t["x"]) == [0.0, 1.5] and list(t["y"]) == [0.0, -2.0]
    assert list(t["depth"]) == [0.0, 0.0]
    assert rep.depth_missing and any("no depth column" in line for line in rep.lines())
    assert "latitude" not in t.columns


def test_projected_time_days_and_depth(tmp_path: Path) -> None:
    path = write(tmp_path, "X,Y,time_days,depth,magnitude\n1,2,3.0,4,5\n")
    t = load_catalog(path).table
    assert list(t["time"]) == [3.0] and list(t["depth"]) == [4.0]


def test_projected_bad_time(tmp_path: Path) -> None:
    path = write(tmp_path, "x,y,t,mag\n1,2,3,4\n1,2,soon,4\n")
    with pytest.raises(CatalogError, match=r"cat\.csv, line 3, column 't': .*'soon'"):
        load_catalog(path)


# ---------------------------------------------------------------------------------------------
# Depth


def test_missing_depth_values_become_zero(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,depth,mag\n2000-01-01,1,2,,3\n2000-01-02,1,2,5,3\n")
    loaded = load_catalog(path)
    assert list(loaded.table["depth"]) == [0.0, 5.0]
    assert loaded.report.n_depth_filled == 1 and not loaded.report.depth_missing


# ---------------------------------------------------------------------------------------------
# Bad input

GOOD = "time,lat,lon,depth,mag\n2000-01-01T00:00:00,10,20,5,3.0\n"


def test_missing_column_lists_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,depth\n2000-01-01,1,2,3\n", "nomag.csv")
    with pytest.raises(CatalogError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert "nomag.csv" in msg and "magnitude" in msg
    assert "columns found: time, lat, lon, depth" in msg


def test_missing_time_column(tmp_path: Path) -> None:
    path = write(tmp_path, "when,lat,lon,mag\n2000-01-01,1,2,3\n")
    with pytest.raises(CatalogError, match=r"no time column.*columns found: when, lat, lon, mag"):
        load_catalog(path)


@pytest.mark.parametrize(
    "row,column,text",
    [
        ("not-a-time,10,20,5,3.0", "time", "unparsable time 'not-a-time'"),
        ("2000-02-30T00:00:00,10,20,5,3.0", "time", "unparsable time '2000-02-30T00:00:00'"),
        ("2000-01-01T00:00:61,10,20,5,3.0", "time", "unparsable time"),
        ("2000-01-02T00:00:00,10,20,5,abc", "mag", "magnitude 'abc' is not a number"),
        ("2000-01-02T00:00:00,10,20,5,", "mag", "magnitude is missing"),
        ("2000-01-02T00:00:00,95.2,20,5,3", "lat", r"latitude 95.2 outside \[-90, 90\]"),
        ("2000-01-02T00:00:00,,20,5,3", "lat", "latitude is missing"),
        ("2000-01-02T00:00:00,10,400,5,3", "lon", r"longitude 400 outside \[-180, 360\)"),
        ("2000-01-02T00:00:00,10,-180.5,5,3", "lon", "longitude -180.5 outside"),
        ("2000-01-02T00:00:00,10,20,deep,3", "depth", "depth 'deep' is not a number"),
    ],
)
def test_bad_values_name_file_line_and_column(
    tmp_path: Path, row: str, column: str, text: str
) -> None:
    path = write(tmp_path, GOOD + GOOD.splitlines()[1] + "\n" + row + "\n", "catalog.csv")
    with pytest.raises(CatalogError, match=rf"catalog\.csv, line 4, column '{column}': {text}"):
        load_catalog(path)


def test_error_reports_first_offending_row(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag\n"
                           "2000-01-01,1,2,x\n"       # line 2: bad magnitude
                           "2000-01-02,91,2,3\n")     # line 3: bad latitude
    with pytest.raises(CatalogError, match=r"line 2, column 'mag'"):
        load_catalog(path)


def test_invalid_values_in_dropped_types_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag,type\n2000-01-01,1,2,3,earthquake\n"
                           "garbage,999,2,x,explosion\n")
    loaded = load_catalog(path)
    assert loaded.report.n_events == 1 and loaded.report.n_invalid_dropped == 0


def test_skip_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name the file as given: 'messy.csv'
    write(tmp_path, "time,lat,lon,mag,type\n"
                           "2000-01-01,1,2,3,earthquake\n"     # line 2, row 0: good
                           "2000-01-02,95,2,3,earthquake\n"    # line 3, row 1: latitude
                           "2000-01-03,1,2,3,quarry blast\n"   # line 4, row 2: type
                           "yesterday,1,2,x,earthquake\n"      # line 5, row 3: time and mag
                           "2000-01-05,1,2,4,earthquake\n",    # line 6, row 4: good
                 "messy.csv")
    loaded = load_catalog("messy.csv", skip_invalid=True)
    rep = loaded.report
    assert list(loaded.table["row"]) == [0, 4] and list(loaded.table["line"]) == [2, 6]
    assert rep.n_invalid_dropped == 2 and rep.n_type_dropped == 1 and rep.n_events == 2
    assert rep.invalid_examples == [
        "messy.csv, line 3, column 'lat': latitude 95 outside [-90, 90]",
        "messy.csv, line 5, column 'time': unparsable time 'yesterday'",
    ]
    assert loaded.dropped["row"].tolist() == [1, 2, 3]
    assert loaded.dropped["reason"].tolist() == [
        "invalid: column 'lat': latitude 95 outside [-90, 90]",
        "not an earthquake (quarry blast)",
        "invalid: column 'time': unparsable time 'yesterday'",
    ]
    assert any("dropped 2 invalid rows" in line for line in rep.lines())


def test_skip_invalid_everything_invalid(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag\n2000-01-01,100,2,3\n")
    with pytest.raises(CatalogError, match="no valid rows left"):
        load_catalog(path, skip_invalid=True)


@pytest.mark.parametrize(
    "text,match",
    [
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        ("time,lat,lon,mag\n", r"no data rows \(columns found: time, lat, lon, mag\)"),
        ("time,lat,lon,mag,type\n2000-01-01,1,2,3,explosion\n", "no rows left after the type"),
    ],
)
def test_empty_catalogs(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(CatalogError, match=rf"empty\.csv: .*{match}"):
        load_catalog(write(tmp_path, text, "empty.csv"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="nowhere.csv: file not found"):
        load_catalog(tmp_path / "nowhere.csv")


def test_catalog_error_is_value_error() -> None:
    assert issubclass(CatalogError, ValueError)


# ---------------------------------------------------------------------------------------------
# Overrides and DataFrames


def test_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "when,north,east,km,size,code,kind\n"
                           "2000-01-01T00:00:00,1,2,3,4,A,eq\n2000-01-02T00:00:00,5,6,7,8,B,eq\n")
    loaded = load_catalog(path, time="when", latitude="north", longitude="east", depth="km",
                          magnitude="size", event_id="code", event_type="kind")
    t = loaded.table
    assert list(t["latitude"]) == [1.0, 5.0] and list(t["depth"]) == [3.0, 7.0]
    assert list(t["event_id"]) == ["A", "B"] and list(t["event_type"]) == ["eq", "eq"]
    assert loaded.report.columns == {"latitude": "north", "longitude": "east",
                                     "magnitude": "size", "depth": "km", "event_id": "code",
                                     "event_type": "kind", "time": "when"}


def test_override_wins_over_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "time,lat,lon,mag,mw\n2000-01-01,1,2,3,4.5\n")
    assert list(load_catalog(path, magnitude="mw").table["magnitude"]) == [4.5]


def test_override_of_absent_column(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "o.csv")
    with pytest.raises(CatalogError, match=r"o\.csv: column 'size' .*columns found: time, lat"):
        load_catalog(path, magnitude="size")


def test_projected_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, "east_km,north_km,days,mag\n1,2,3,4\n")
    t = load_catalog(path, x="east_km", y="north_km", time="days").table
    assert list(t["x"]) == [1.0] and list(t["y"]) == [2.0] and list(t["time"]) == [3.0]


def test_dataframe_source() -> None:
    frame = pd.DataFrame({
        "time": pd.to_datetime(["2000-01-02", "2000-01-01"]),  # naive: UTC
        "latitude": [1.0, 2.0], "longitude": [3.0, 4.0], "magnitude": [2.0, 3.0],
        "evid": [7, 8],
    })
    loaded = load_catalog(frame)
    assert loaded.raw is frame
    assert times(loaded.table) == [ts("2000-01-01"), ts("2000-01-02")]
    assert list(loaded.table["row"]) == [1, 0] and list(loaded.table["event_id"]) == ["8", "7"]
    bad = frame.assign(latitude=[1.0, 123.0])
    with pytest.raises(CatalogError, match=r"^<DataFrame>, row 1, column 'latitude'"):
        load_catalog(bad)


def test_float_ids_have_no_trailing_zero() -> None:
    frame = pd.DataFrame({"time": ["2000-01-01", "2000-01-02"], "lat": [1.0, 2.0],
                          "lon": [1.0, 2.0], "mag": [1.0, 2.0], "id": [12.0, np.nan]})
    assert load_catalog(frame).table["event_id"].tolist() == ["12", pd.NA]


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        # An integer block and a block with a gap (read as float): integral ids throughout.
        (["11", "12", "13", "", "15"], ["11", "12", "13", pd.NA, "15"]),
        (["11", "12", "13", "", "15.5"], ["11", "12", "13", pd.NA, "15.5"]),
        (["11", "12", "0013", "", "x15"], ["11", "12", "0013", pd.NA, "x15"]),
    ],
)
def test_file_ids_read_as_written_in_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ids: list[str], expected: list[object]
) -> None:
    import lite_decluster.catalog.source as cat

    rows = [f"2020-01-01T00:0{i}:00,34.0,-117.0,5.0,2.0,{v}" for i, v in enumerate(ids)]
    path = write(tmp_path, "time,lat,lon,depth,mag,id\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(cat, "_BLOCK_BYTES", 100)  # three rows in the first block
    assert load_catalog(path).table["event_id"].tolist() == expected


def test_read_catalog_attrs(data_dir: Path) -> None:
    table = read_catalog(data_dir / "scsn_small.csv")
    report = table.attrs["report"]
    assert report["n_events"] == 5 and report["type_counts"] == {"qb": 1}
    assert report["format"] == "scsn" and isinstance(report["columns"], dict)
    assert not any(isinstance(v, pd.DataFrame | np.ndarray) for v in report.values())


def test_types() -> None:
    loaded = load_catalog(pd.DataFrame({"time": ["2000-01-01"], "lat": [0], "lon": [0],
                                        "mag": [1]}))
    assert isinstance(loaded, LoadedCatalog) and isinstance(loaded.report, CatalogReport)
    t = loaded.table
    assert t["row"].dtype == np.int64 and t["line"].dtype == np.int64
    assert t["latitude"].dtype == np.float64 and t["magnitude"].dtype == np.float64


# ---------------------------------------------------------------------------------------------
# Completeness


@pytest.fixture
def mags() -> pd.DataFrame:
    frame = pd.DataFrame({
        "time": pd.date_range("2000-01-01", periods=10, freq="D").astype(str),
        "lat": 0.0, "lon": 0.0,
        # bins of 0.1: one 1.0, three 1.1, two 1.2, ... -> maximum curvature 1.1, Mc 1.3
        "mag": [1.0, 1.1, 1.1, 1.1, 1.2, 1.2, 1.3, 1.4, 2.0, 0.3 + 0.1 + 0.9],
    })
    return load_catalog(frame).table


def test_completeness_none(mags: pd.DataFrame) -> None:
    table, mc = apply_completeness(mags, None)
    assert mc is None and len(table) == 10


def test_completeness_float_with_tolerance(mags: pd.DataFrame) -> None:
    table, mc = apply_completeness(mags, 1.3)
    # 0.3 + 0.1 + 0.9 = 1.2999999999999998 is kept by the 1e-6 tolerance
    assert mc == 1.3 and sorted(table["magnitude"].round(6)) == [1.3, 1.3, 1.4, 2.0]
    assert list(table.index) == [0, 1, 2, 3]


def test_completeness_auto(mags: pd.DataFrame) -> None:
    table, mc = apply_completeness(mags, "auto")
    assert mc == pytest.approx(1.3)
    assert len(table) == 4


def test_completeness_empties_catalog(mags: pd.DataFrame) -> None:
    with pytest.raises(CatalogError, match=r"no events with magnitude >= Mc 9 \(of 10\)"):
        apply_completeness(mags, 9.0)
    with pytest.raises(CatalogError, match="Mc must be"):
        apply_completeness(mags, "high")


# ---------------------------------------------------------------------------------------------
# Real catalogs (skipped without ../shared/data)


def _check_real(loaded: LoadedCatalog, lat: tuple[float, float], lon: tuple[float, float]) -> None:
    t = loaded.table
    assert t["time"].is_monotonic_increasing and str(t["time"].dtype) == "datetime64[ns, UTC]"
    assert t["latitude"].between(*lat).all() and t["longitude"].between(*lon).all()
    assert len(t) == loaded.report.n_events == loaded.report.n_rows - len(loaded.dropped)
    assert list(t.index) == list(range(len(t)))


def test_real_scsn_m25(shared_data: Path) -> None:
    loaded = load_catalog(shared_data / "scsn_socal_1932_2026_M2.5.csv")
    rep = loaded.report
    assert rep.format == "scsn" and rep.n_rows == 62_596 and rep.n_events == 62_596
    assert rep.n_type_dropped == 0 and set(loaded.table["event_type"]) == {"eq"}
    assert rep.n_time_rollovers == 1  # 1999-10-17T23:24:60.99
    _check_real(loaded, (32, 37), (-122, -114))


def test_real_scsn_all(shared_data: Path) -> None:
    loaded = load_catalog(shared_data / "scsn_socal_1932_2026_all.csv.xz")
    rep = loaded.report
    assert rep.n_rows == 905_288 and rep.n_events == 856_745
    assert rep.type_counts == {"qb": 48_543}
    _check_real(loaded, (32, 37), (-122, -114))
    # line 24330 of the file is '1976-09-04T02:42:60.99,eq,...,145251,...'
    event = loaded.table[loaded.table["line"] == 24_330].iloc[0]
    assert event["time"] == ts("1976-09-04T02:43:00.99") and event["event_id"] == "145251"
    assert event["row"] == 24_328
    assert rep.n_time_rollovers == 28  # 30 in the file, 2 of them quarry blasts


def test_real_comcat(shared_data: Path) -> None:
    loaded = load_catalog(shared_data / "comcat_california_2015_2025_M2.5.csv")
    rep = loaded.report
    assert rep.format == "comcat" and rep.n_rows == 18_839
    assert rep.n_type_dropped == 103 and rep.n_events == 18_736
    assert rep.type_counts["quarry blast"] == 20
    _check_real(loaded, (20.5, 47.5), (-124.5, -108))


def test_real_ingv(shared_data: Path) -> None:
    loaded = load_catalog(shared_data / "ingv_italy_1985_2022_M3.txt")
    rep = loaded.report
    assert rep.format == "ingv" and rep.n_rows == 15_259
    assert rep.n_events == 15_257 and rep.type_counts == {"not reported": 1, "landslide": 1}
    _check_real(loaded, (30, 48), (-7, 37))
    assert loaded.table["magnitude"].min() >= 3.0


# ------------------------------------------------------------------------- block-wise reading

_BLOCKY = (
    "time,latitude,longitude,depth,mag,id,type,place\n"
    "2020-01-01T00:00:00Z,34.0,-117.0,5.0,2.1,a1,earthquake,\"3 km N of A, CA\"\n"
    "\n"
    "2020-01-01T00:10:00Z,34.1,-117.1,6.0,2.2,a2,quarry blast,\"multi\nline, place\"\n"
    "2020-01-01T00:05:00Z,34.2,-117.2,,2.3,a3,earthquake,B\n"
    "2020-01-01T00:20:00Z,34.3,-117.3,7.0,oops,a4,earthquake,C\n"
    "   \n"
    "2020-01-01T00:30:60.5Z,34.4,-117.4,8.0,2.5,a5,earthquake,D\n"
    "2020-01-01T00:40:00Z,99.0,-117.5,9.0,2.6,a6,earthquake,E\n"
    "2020-01-01T00:50:00Z,34.6,-117.6,1.0,2.7,a7,earthquake,F\n"
)


@pytest.mark.parametrize("block", [16, 61, 200])
@pytest.mark.parametrize("keep_raw", [True, False])
def test_small_blocks_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int,
                                    keep_raw: bool) -> None:
    """Rows split over many blocks (quoted newlines, blank lines, invalid rows) read as one."""
    import lite_decluster.catalog.source as cat

    path = write(tmp_path, _BLOCKY)
    whole = load_catalog(path, skip_invalid=True)
    monkeypatch.setattr(cat, "_BLOCK_BYTES", block)
    parts = load_catalog(path, skip_invalid=True, keep_raw=keep_raw)
    # Lines worked out from the text: header 1, a1 2, (blank 3), a2 4-5, a3 6, a4 7, (blank 8),
    # a5 9, a6 10, a7 11.
    assert whole.table["line"].tolist() == [2, 6, 9, 11]
    assert whole.table["event_id"].tolist() == ["a1", "a3", "a5", "a7"]
    pd.testing.assert_frame_equal(parts.table, whole.table)
    pd.testing.assert_frame_equal(parts.dropped, whole.dropped)
    assert parts.dropped["row"].tolist() == [1, 3, 5]
    assert parts.report.invalid_examples == [
        f"{path}, line 7, column 'mag': magnitude 'oops' is not a number",
        f"{path}, line 10, column 'latitude': latitude 99 outside [-90, 90]",
    ]
    assert parts.report.n_time_rollovers == 1 and parts.report.n_depth_filled == 1
    if keep_raw:
        # Each block infers its own column types ('oops' makes one block's mag text): compare
        # the values as text.
        pd.testing.assert_frame_equal(parts.raw.astype(str), whole.raw.astype(str))
        assert parts.raw["place"].tolist()[1] == "multi\nline, place"
    else:
        assert parts.raw is None


def test_error_line_in_a_later_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lite_decluster.catalog.source as cat

    rows = [f"2020-01-01T00:{i:02d}:00,34.0,-117.0,5.0,2.0" for i in range(40)]
    rows[33] = "2020-01-01T00:33:00,34.0,-117.0,5.0,2.0,extra"
    path = write(tmp_path, "time,lat,lon,depth,mag\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(cat, "_BLOCK_BYTES", 100)
    with pytest.raises(CatalogError, match=r"line 35, saw 6"):  # header + 33 rows before it
        load_catalog(path)
    rows[33] = "2020-01-01T00:33:00,34.0,-117.0,5.0,big"
    write(tmp_path, "time,lat,lon,depth,mag\n" + "\n".join(rows) + "\n")
    with pytest.raises(CatalogError, match=r"line 35, column 'mag'"):
        load_catalog(path)
