"""The labelled text output: the input's records verbatim, then the added fields."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from _fixtures import EXAMPLE

from lite_decluster.declustering import label_catalog
from lite_decluster.labelled_text import write_labelled_text


def _records(path):
    if path.suffix == ".xz":
        import lzma

        data = lzma.decompress(path.read_bytes())
    else:
        data = path.read_bytes()
    return [ln for ln in data.splitlines(keepends=True) if ln.strip()]


def _check_verbatim(src, out, sep: bytes):
    want, got = _records(src), _records(out)
    assert len(want) == len(got)
    for w, g in zip(want, got, strict=True):
        body = w.rstrip(b"\r\n")
        assert g.startswith(body + sep), (w, g)
        assert g.endswith(w[len(body):])  # the record's own line ending


def _write(src, tmp_path, **kw):
    done = label_catalog(src, keep_raw=False, keep_events=False, **kw)
    out = tmp_path / "out.txt"
    write_labelled_text(src, done.labels, done.info, out)
    return out, done


def test_integers_quotes_crlf_and_dm_precision(tmp_path):
    src = tmp_path / "cat.csv"
    lines = pd.read_csv(EXAMPLE).head(400)
    text = lines.to_csv(index=False, lineterminator="\r\n")
    # Integers with gaps ('3', not '3.0'), a quoted field with the delimiter, magnitude
    # differences like 2.7 - 1.9 that float arithmetic writes as 0.7999999999999998.
    text = text.replace(",ml,", ',"ml, local",', 3)
    src.write_bytes(text.encode())
    out, done = _write(src, tmp_path, mc=None, b=1.0)
    _check_verbatim(src, out, b",")
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert got["dm"].dropna().map(lambda v: len(repr(v)) <= 5).all()
    for name in ("p_aftershock", "eta", "T", "R"):
        raw = out.read_text().splitlines()[1:]
        k = list(got.columns).index(name)
        fields = [ln.split(",")[k + 2] for ln in raw[:50]]  # the quoted field adds one comma
        assert all(len(re.sub(r"[^0-9]", "", f.split("e")[0]).lstrip("0")) <= 6 for f in fields)
    t = pd.to_datetime(got["time_utc"], utc=True, format="ISO8601")
    quake = lines["type"] == "earthquake"  # other rows are not validated: no time_utc
    assert (t[quake] == pd.to_datetime(lines["time"], utc=True)[quake]).all()
    assert t[~quake].isna().all()


def test_whitespace_delimited_reasons_are_quoted(tmp_path):
    src = tmp_path / "cat.txt"
    df = pd.read_csv(EXAMPLE).head(300)[["time", "latitude", "longitude", "depth", "mag"]]
    src.write_text(df.to_csv(index=False, sep=" "))
    out, _ = _write(src, tmp_path)
    _check_verbatim(src, out, b" ")
    back = pd.read_csv(out, sep=r"\s+", keep_default_na=False, na_values=[""])
    assert back["reason"].dropna().str.startswith(("below Mc", "first event")).all()


def test_block_wise_equals_one_block(tmp_path):
    done = label_catalog(EXAMPLE, keep_raw=False, keep_events=False)
    write_labelled_text(EXAMPLE, done.labels, done.info, tmp_path / "a.csv")
    write_labelled_text(EXAMPLE, done.labels, done.info, tmp_path / "b.csv", block_bytes=3000)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


@pytest.mark.parametrize("name, sep", [
    ("scsn_socal_1932_2026_M2.5.csv", b","),
    ("comcat_california_2015_2025_M2.5.csv", b","),
    ("ingv_italy_1985_2022_M3.txt", b"|"),
    ("scsn_socal_1932_2026_all.csv.xz", b","),
])
def test_real_catalogs_verbatim(shared_data, tmp_path, name, sep):
    src = shared_data / name
    out, done = _write(src, tmp_path, skip_invalid=True)
    _check_verbatim(src, out, sep)
    got = pd.read_csv(out, sep=sep.decode(), keep_default_na=False, na_values=[""], dtype=str)
    col = "time_utc_ld" if name.startswith("scsn") else "time_utc"
    t = pd.to_datetime(got[col], utc=True, format="ISO8601")
    assert t.notna().sum() == done.labels.row_time.size - np.isnat(done.labels.row_time).sum()
    if name.startswith("scsn"):
        # Leap-second style '...:60.99' rows are repaired in the added column only.
        raw = got["time_utc"]
        sixty = raw.str.contains(":60")
        valid = ~got["reason"].fillna("").str.startswith(("not an earthquake", "invalid"))
        assert (sixty & valid).any() and t[sixty & valid].notna().all()
        assert t[~valid].isna().all()  # rows not validated (quarry blasts) have no time_utc
    if name.startswith("ingv"):
        assert _records(out)[0].startswith(b"#EventID|")
