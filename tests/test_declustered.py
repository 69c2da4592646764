"""Declustered catalogs and realisations: rows copied byte for byte, counts as expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fixtures import EXAMPLE

from lite_decluster.declustered import realization_rows
from lite_decluster.declustering import decluster

CLI = [sys.executable, "-m", "lite_decluster.cli"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, capture_output=True, text=True)


def _data_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("declustered")
    src = tmp / "cat.csv"
    # CRLF line ends, a quoted field with a comma and a blank line: all must survive verbatim.
    text = Path(EXAMPLE).read_bytes().replace(b"\n", b"\r\n")
    lines = text.splitlines(keepends=True)
    lines[5] = lines[5].replace(b",ml,", b',"ml, local",', 1)
    lines.insert(9, b"\r\n")
    src.write_bytes(b"".join(lines))
    res = _run("run", src, "-o", tmp / "out.csv", "--declustered", tmp / "main.csv",
               "--realizations", "100", "--seed", "7", "--realizations-out", tmp / "real.csv",
               cwd=tmp)
    assert res.returncode == 0, res.stderr
    out = pd.read_csv(tmp / "out.csv")
    return tmp, src, out, res.stderr


def test_declustered_rows_are_the_input_bytes(example_run):
    tmp, src, out, _ = example_run
    lines = [ln for ln in _data_lines(src) if ln.strip()]
    header, rows = lines[0], lines[1:]
    assert len(rows) == len(out)
    keep = out["cluster_role"].isin(["single", "mainshock"]).to_numpy()
    got = _data_lines(tmp / "main.csv")
    assert got[0] == header
    assert got[1:] == [r for r, k in zip(rows, keep, strict=True) if k]
    # One event per cluster. Clusters are rooted by the background events and by the
    # aftershocks whose parent is not labelled (below Mc: a candidate parent only).
    labelled = out["label"].notna().to_numpy()
    parent = out["parent_row"].to_numpy(dtype=float, na_value=np.nan)
    orphan = (out["label"] == "aftershock").to_numpy() & ~labelled[
        np.nan_to_num(parent, nan=0).astype(int)]
    assert orphan.sum() > 0  # the example has events between Mc - 0.5 and Mc
    assert keep.sum() == out["cluster"].nunique() == \
        (out["label"] == "background").sum() + orphan.sum()


def test_keep_background(example_run, tmp_path):
    _, src, out, _ = example_run
    res = _run("run", src, "-o", tmp_path / "o.csv", "--declustered", tmp_path / "bg.csv",
               "--keep", "background", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [ln for ln in _data_lines(src) if ln.strip()][1:]
    bg = (out["label"] == "background").to_numpy()
    assert _data_lines(tmp_path / "bg.csv")[1:] == [r for r, k in zip(rows, bg, strict=True) if k]


def test_cluster_columns_follow_the_parents(example_run):
    _, _, out, _ = example_run
    lab = out[out["label"].notna()]
    # A background event roots its own cluster; an aftershock is in its parent's cluster, or
    # roots one when its parent has no label (below Mc: a candidate parent only).
    bg = lab[lab["label"] == "background"]
    assert (bg["cluster"] == bg.index).all()
    af = lab[lab["label"] == "aftershock"]
    parent = af["parent_row"].astype(int)
    has = out.loc[parent, "label"].notna().to_numpy()
    assert has.any() and (~has).any()
    assert (af["cluster"].to_numpy()[has] == out.loc[parent[has], "cluster"].to_numpy()).all()
    assert (af["cluster"][~has] == af.index[~has]).all()
    for _, g in lab.groupby("cluster"):
        main = g[g["cluster_role"].isin(["mainshock", "single"])]
        assert len(main) == 1 and main["mag"].iloc[0] == g["mag"].max()
        assert (g["cluster_size"] == len(g)).all()


def test_realizations_mean_count_and_seed(example_run, tmp_path):
    tmp, src, out, stderr = example_run
    real = pd.read_csv(tmp / "real.csv")
    assert sorted(real["realization"].unique()) == list(range(100))
    pb = np.where(out["label"] == "background", 1 - out["p_aftershock"].fillna(0.0),
                  1 - out["p_aftershock"].fillna(1.0))
    expected = float(pb[out["label"].notna()].sum())
    mean = real.groupby("realization").size().mean()
    assert abs(mean - expected) / expected < 0.01
    # Each realisation's rows are input rows, in input order, byte for byte.
    rows = [ln for ln in _data_lines(src) if ln.strip()][1:]
    lines = _data_lines(tmp / "real.csv")[1:]
    first = [ln.split(b",", 1)[1] for ln in lines if ln.startswith(b"0,")]
    assert all(r in rows for r in first[:50])
    res = _run("run", src, "-o", tmp_path / "o.csv", "--realizations", "100", "--seed", "7",
               "--realizations-out", tmp_path / "again.csv", cwd=tmp_path)
    assert res.returncode == 0
    assert (tmp_path / "again.csv").read_bytes() == (tmp / "real.csv").read_bytes()
    res = _run("run", src, "-o", tmp_path / "o2.csv", "--realizations", "100", "--seed", "8",
               "--realizations-out", tmp_path / "other.csv", cwd=tmp_path)
    assert (tmp_path / "other.csv").read_bytes() != (tmp / "real.csv").read_bytes()


def test_realization_sampler_is_unbiased():
    rng = np.random.default_rng(0)
    pb = rng.uniform(0, 1, 5000)
    pb[::7] = np.nan  # rows not labelled are never kept
    sets = realization_rows(pb, 200, seed=1)
    counts = np.array([s.size for s in sets])
    assert abs(counts.mean() - np.nansum(pb)) < 4 * np.sqrt(np.nansum(pb * (1 - pb)) / 200)
    freq = np.bincount(np.concatenate(sets), minlength=pb.size) / 200
    ok = np.isfinite(pb)
    assert np.all(freq[~ok] == 0)
    sd = np.sqrt(pb[ok] * (1 - pb[ok]) / 200)
    assert np.all(np.abs(freq[ok] - pb[ok]) <= 5.5 * sd + 1e-12)


def test_realizations_need_probabilities(tmp_path):
    res = _run("run", EXAMPLE, "-o", tmp_path / "o.csv", "--method", "nnd-threshold",
               "--realizations", "3", cwd=tmp_path)
    assert res.returncode == 2 and "needs probabilities" in res.stderr


def test_api_result_has_one_mainshock_per_cluster():
    out = decluster(EXAMPLE)
    lab = out[out["label"].notna()]
    assert (lab.groupby("cluster")["cluster_role"].apply(
        lambda r: int(r.isin(["mainshock", "single"]).sum())) == 1).all()


@pytest.mark.parametrize("name", ["comcat_california_2015_2025_M2.5.csv",
                                  "ingv_italy_1985_2022_M3.txt",
                                  "scsn_socal_1932_2026_M2.5.csv"])
def test_real_catalogs_declustered_verbatim(shared_data, tmp_path, name):
    from lite_decluster.declustered import declustered_rows, write_declustered
    from lite_decluster.declustering import label_catalog

    src = shared_data / name
    done = label_catalog(src, keep_raw=False, keep_events=False)
    keep = declustered_rows(done.labels, "mainshocks")
    write_declustered(src, keep, tmp_path / "d.txt")
    lines = src.read_bytes().splitlines(keepends=True)
    assert b'"' not in b"".join(lines[1:]) or name.startswith("comcat")
    # Records as written: comcat quotes place names (no newlines inside), so lines are records.
    header, rows = lines[0], [ln for ln in lines[1:] if ln.strip()]
    assert len(rows) == done.labels.n_rows
    got = (tmp_path / "d.txt").read_bytes().splitlines(keepends=True)
    assert got[0] == header
    assert got[1:] == [r for r, k in zip(rows, keep, strict=True) if k]
    assert keep.sum() == done.info.n_clusters


def test_api_declustered_catalog_and_realizations():
    import lite_decluster as ld

    out = ld.decluster(EXAMPLE)
    main = ld.declustered_catalog(out)
    assert list(main.columns) == out.attrs["input_columns"]
    assert len(main) == out["cluster"].nunique()
    assert (out.loc[main.index, "mag"] == out.loc[main.index].groupby(
        out.loc[main.index, "cluster"])["mag"].transform("max")).all()
    bg = ld.declustered_catalog(out, keep="background")
    assert len(bg) == (out["label"] == "background").sum() < len(main)
    assert (out.loc[bg.index, "label"] == "background").all()
    real = ld.realizations(out, 100, seed=3)
    expected = out.attrs["run"]["expected_background"]
    assert abs(real.groupby("realization").size().mean() - expected) / expected < 0.01
    assert real.equals(ld.realizations(out, 100, seed=3))
    with pytest.raises(ValueError, match="no probabilities"):
        ld.realizations(ld.decluster(EXAMPLE, method="nnd-threshold"), 2)
