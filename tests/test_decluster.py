"""The decluster() API and the safe writer (lite_decluster.declustering, lite_decluster.output)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _fixtures import EXAMPLE, shipped, small_catalog, tiny_models

from lite_decluster import output
from lite_decluster.assemble import FIRST_EVENT
from lite_decluster.catalog import CatalogError, load_catalog
from lite_decluster.declustering import (
    RESULT_COLUMNS,
    DeclusterError,
    decluster,
    run_decluster,
)
from lite_decluster.model import Model, ModelError, load_model
from lite_decluster.nnd import nnd_threshold
from lite_decluster.output import (
    OutputError,
    atomic_write,
    default_output_path,
    write_table,
)
from lite_decluster.pipeline import prepare_features

__all__ = ["tiny_models"]  # fixtures used here


@pytest.fixture(scope="module")
def example_result(tiny_models):
    return run_decluster(EXAMPLE, models_directory=tiny_models, threads=1)


def test_every_row_in_input_order(example_result):
    result, info = example_result
    raw = pd.read_csv(EXAMPLE)
    assert len(result) == len(raw) == info.n_rows
    assert list(result.columns) == list(raw.columns) + list(RESULT_COLUMNS)
    pd.testing.assert_frame_equal(result[raw.columns], raw, check_dtype=False)
    assert result.index.equals(raw.index)


def test_reasons_and_labels(example_result):
    result, info = example_result
    reason, label, p = result["reason"], result["label"], result["p_aftershock"]
    blasts = result["type"] == "quarry blast"
    assert (reason[blasts] == "not an earthquake (quarry blast)").all()
    assert label[blasts].isna().all() and p[blasts].isna().all()
    below = (result["mag"] < info.mc - 1e-9) & ~blasts
    assert below.sum() == info.n_below_mc > 0
    assert (reason[below] == f"below Mc {info.mc:g}").all() and label[below].isna().all()
    first = reason == FIRST_EVENT
    assert first.sum() == info.n_first == 1
    assert (label[first] == "background").all() and p[first].isna().all()
    scored = reason == ""
    assert p[scored].notna().all()
    expected = np.where(p[scored] > 0.5, "aftershock", "background")
    assert (label[scored].to_numpy() == expected).all()
    assert not (reason.isna()).any()
    assert info.n_classified == label.notna().sum() == scored.sum() + first.sum()
    assert info.n_rows == (
        info.n_classified + info.n_type_dropped + info.n_invalid_dropped + info.n_below_mc
    )
    assert info.n_background + info.n_aftershock == info.n_classified


def test_parents_are_earlier_labelled_rows(example_result):
    result, _ = example_result
    has = result["parent_row"].notna()
    assert (has == (result["reason"] == "")).all()
    child = np.flatnonzero(has.to_numpy())
    parent = result.loc[has, "parent_row"].to_numpy(dtype=np.int64)
    times = pd.to_datetime(result["time"], utc=True)
    assert (times.to_numpy()[parent] < times.to_numpy()[child]).all()
    assert result["label"].iloc[parent].notna().all()
    assert (result.loc[has, "parent_id"].to_numpy() == result["id"].to_numpy()[parent]).all()
    assert (result["dm"].to_numpy()[child] == pytest.approx(
        result["mag"].to_numpy()[parent] - result["mag"].to_numpy()[child]))


def test_features_and_probabilities_match_the_pipeline(example_result, tiny_models):
    result, info = example_result
    model = load_model(directory=tiny_models, threads=1)
    table = load_catalog(EXAMPLE).table
    prep = prepare_features(table, spec=model.spec_dict, workers=1)
    rows = prep.table["row"].to_numpy()
    for col in ("eta", "T", "R", "dm", "n_siblings", "n_offspring"):
        got = result[col].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(got[rows], prep.features[col].to_numpy())
    ok = np.isfinite(prep.X).all(axis=1)
    np.testing.assert_array_equal(
        result["p_aftershock"].to_numpy()[rows[ok]], model.predict_proba(prep.X[ok])
    )
    assert info.b == prep.b and info.b_sigma == prep.b_estimate.sigma
    assert info.model_sha256 == model.sha256 and info.model_name == "rf_td025"


def test_nan_features_never_reach_the_model(tiny_models, monkeypatch):
    seen = []
    original = Model.predict_proba

    def checked(self, X, **kw):
        seen.append(np.isfinite(X).all())
        return original(self, X, **kw)

    monkeypatch.setattr(Model, "predict_proba", checked)
    decluster(small_catalog(), models_directory=tiny_models)
    assert seen and all(seen)


def test_dataframe_input_keeps_its_index_and_order(tiny_models):
    cat = small_catalog().sample(frac=1.0, random_state=1)
    cat.index = cat.index * 10 + 7
    result = decluster(cat, models_directory=tiny_models)
    assert result.index.equals(cat.index)
    assert (result["id"] == cat["id"]).all()
    sorted_result = decluster(small_catalog(), models_directory=tiny_models)
    by_id = sorted_result.set_index("id")["label"]
    assert (result.set_index("id")["label"] == by_id.loc[result["id"]]).all()
    run = result.attrs["run"]
    assert run["model_name"] == "rf_td025" and 0 < run["background_fraction"] < 1
    assert set(run["timings"]) >= {"read", "features", "predict"}


def test_nnd_threshold_method_agrees_with_an_independent_split():
    result, info = run_decluster(EXAMPLE, method="nnd-threshold")
    assert result["p_aftershock"].isna().all()
    assert info.model_name is None and info.nnd_threshold is not None
    eta = result["eta"].to_numpy()
    finite = np.isfinite(eta)
    cut = nnd_threshold(np.log10(eta[finite]))
    assert cut == pytest.approx(info.nnd_threshold)
    expected = np.where(np.log10(eta[finite]) < cut, "aftershock", "background")
    assert (result["label"].to_numpy()[finite] == expected).all()
    assert (result.loc[result["reason"] == FIRST_EVENT, "label"] == "background").all()
    assert "log10 eta <" in "\n".join(info.lines())


def test_threshold_mc_and_b_options(tiny_models):
    cat = small_catalog()
    base = decluster(cat, models_directory=tiny_models)
    strict = decluster(cat, models_directory=tiny_models, threshold=0.9)
    p = strict["p_aftershock"]
    assert ((strict["label"] == "aftershock") == (p > 0.9)).all()
    assert (strict["label"] == "aftershock").sum() <= (base["label"] == "aftershock").sum()
    every = decluster(cat, models_directory=tiny_models, mc=None, b=1.0)
    assert every.attrs["run"]["n_below_mc"] == 0 and every.attrs["run"]["b"] == 1.0
    assert every.attrs["run"]["b_method"] == "given"
    given = decluster(cat, models_directory=tiny_models, mc=3.0)
    assert given.attrs["run"]["mc"] == 3.0
    assert (given.loc[given["mag"] < 3.0, "reason"].isin(
        ["below Mc 3", "not an earthquake (quarry blast)"])).all()
    hypo = run_decluster(cat, models_directory=tiny_models, df=1.8, hypocentral=True)[1]
    assert any("df 1.8" in n for n in hypo.notes)


def test_invalid_rows(tiny_models):
    cat = small_catalog()
    cat["mag"] = cat["mag"].astype(object)
    cat.loc[5, "mag"] = "n/a"
    with pytest.raises(CatalogError, match="mag"):
        decluster(cat, models_directory=tiny_models)
    result = decluster(cat, models_directory=tiny_models, skip_invalid=True)
    assert result.loc[5, "reason"].startswith("invalid: column 'mag'")
    assert pd.isna(result.loc[5, "label"]) and len(result) == len(cat)


def test_columns_event_types_and_clashes(tiny_models):
    cat = small_catalog().rename(columns={"mag": "ML", "type": "kind"})
    cat["label"] = "mine"
    result = decluster(
        cat, models_directory=tiny_models, columns={"magnitude": "ML", "event_type": "kind"},
        event_types=None,
    )
    # The input's own column keeps its name; the added one gets a suffix.
    assert (result["label"] == "mine").all() and "label_ld" in result
    assert result.loc[cat["kind"] == "quarry blast", "reason"].ne(
        "not an earthquake (quarry blast)").all()
    assert any("renamed" in n for n in result.attrs["run"]["notes"])


def test_bad_arguments():
    with pytest.raises(DeclusterError, match="method"):
        decluster(EXAMPLE, method="dbscan")
    with pytest.raises(DeclusterError, match="threshold"):
        decluster(EXAMPLE, threshold=1.5)
    with pytest.raises(DeclusterError, match="df"):
        decluster(EXAMPLE, df=-1.0)
    with pytest.raises(DeclusterError, match="column option"):
        decluster(EXAMPLE, columns={"mag": "mag"})


def test_loaded_model_is_reused(tiny_models):
    model = load_model(50, directory=tiny_models)
    result = decluster(small_catalog(), model)
    assert result.attrs["run"]["model_name"] == "rf_td050"
    assert result.attrs["run"]["model_td_fraction"] == 50


def test_bad_model_refused_before_the_search(tmp_path, tiny_models):
    """The model file is checked before the (long) search; its session opens after it."""
    import shutil

    models = Path(shutil.copytree(tiny_models, tmp_path / "models"))
    path = models / "rf_td050.onnx"
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    stages: list[str] = []
    with pytest.raises(ModelError, match="does not match its manifest"):
        decluster(small_catalog(), 50, models_directory=models,
                  progress=lambda stage, done, total: stages.append(stage))
    assert stages == ["read", "model"]
    stages.clear()
    decluster(small_catalog(), 50, models_directory=tiny_models,
              progress=lambda stage, done, total: stages.append(stage))
    stages = [s for k, s in enumerate(stages) if k == 0 or s != stages[k - 1]]  # per stage
    assert stages[:4] == ["read", "model", "features", "model"] and "predict" in stages


# ------------------------------------------------------------------------- output


def test_default_output_path(tmp_path):
    assert default_output_path(tmp_path / "cat.csv").name == "cat.declustered.csv"
    assert default_output_path(tmp_path / "cat.csv.gz").name == "cat.declustered.csv"
    assert default_output_path(tmp_path / "cat.txt", "parquet").name == "cat.declustered.parquet"
    assert default_output_path(tmp_path / "catalog").name == "catalog.declustered.csv"


def test_write_refuses_input_and_existing(tmp_path):
    df = pd.DataFrame({"a": [1, 2]})
    src = tmp_path / "in.csv"
    src.write_text("a\n1\n")
    with pytest.raises(OutputError, match="input"):
        write_table(df, src, inputs=[src], force=True)
    with pytest.raises(OutputError, match="input"):
        write_table(df, tmp_path / "sub" / ".." / "in.csv", inputs=[src], force=True)
    assert src.read_text() == "a\n1\n"
    out = tmp_path / "out.csv"
    write_table(df, out)
    with pytest.raises(OutputError, match="already exists"):
        write_table(df, out)
    write_table(pd.DataFrame({"a": [3]}), out, force=True)
    assert out.read_text() == "a\n3\n"
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # not the temporary file's 0600


def test_interrupted_write_leaves_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "out.csv"
    out.write_text("previous\n")

    def broken(table, fh, **kwargs):
        fh.write(b"partial,")
        raise OSError("disk full")

    monkeypatch.setattr(output, "_write_csv", broken)  # whichever CSV writer is in use
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.DataFrame({"a": [1]}), out, force=True)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]

    def interrupted(fh):
        fh.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(out, interrupted)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_parquet(tmp_path, monkeypatch):
    df = pd.DataFrame({"a": [1.5, 2.5], "label": pd.array(["x", None], dtype="string")})
    pytest.importorskip("pyarrow")
    write_table(df, tmp_path / "out.parquet")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert back["a"].tolist() == [1.5, 2.5]
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(OutputError, match="pip install pyarrow"):
        write_table(df, tmp_path / "again.parquet")
    assert not (tmp_path / "again.parquet").exists()
    with pytest.raises(OutputError, match="unknown output format"):
        write_table(df, tmp_path / "x.csv", format="xlsx")


# ------------------------------------------------------------------------- shipped models


@shipped
def test_shipped_default_model_on_the_example():
    result, info = run_decluster(EXAMPLE)
    truth = result["true_label"]
    scored = result["reason"] == ""
    agree = (result.loc[scored, "label"] == truth[scored]).mean()
    assert info.model_name is not None and info.method == "forest"
    assert agree > 0.7, f"only {agree:.1%} of labels agree with the ETAS truth"


# ------------------------------------------------------------------------- example catalog


def test_bundled_example_is_what_the_generator_writes(tmp_path):
    from export.example import write_example

    out = write_example(tmp_path / "example.csv")
    assert out.read_bytes() == EXAMPLE.read_bytes()
    assert EXAMPLE.stat().st_size < 1_000_000
    cat = pd.read_csv(EXAMPLE, keep_default_na=False)
    assert list(cat.columns[:8]) == ["time", "latitude", "longitude", "depth", "mag", "magType",
                                     "id", "type"]
    quakes = cat[cat["type"] == "earthquake"]
    assert 5000 <= len(quakes) <= 10000
    assert set(quakes["true_label"]) == {"background", "aftershock"}
    assert np.allclose(quakes["mag"] * 10, np.round(quakes["mag"] * 10))
    assert cat["time"].iloc[0].startswith("2000-01-") and cat["time"].str.endswith("Z").all()
    parents = quakes.loc[quakes["true_parent_id"] != "", "true_parent_id"]
    assert parents.isin(set(cat["id"])).all()


def test_example_projection_keeps_distances_from_the_centre():
    from export.example import EARTH_RADIUS_KM, ORIGIN_LAT, ORIGIN_LON, to_lonlat

    rng = np.random.default_rng(0)
    east, north = rng.uniform(-150, 150, 200), rng.uniform(-150, 150, 200)
    lon, lat = to_lonlat(east, north)
    p0, p1 = np.radians(ORIGIN_LAT), np.radians(lat)
    dlon = np.radians(lon - ORIGIN_LON)
    hav = np.sin((p1 - p0) / 2) ** 2 + np.cos(p0) * np.cos(p1) * np.sin(dlon / 2) ** 2
    dist = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(hav))
    np.testing.assert_allclose(dist, np.hypot(east, north), rtol=1e-9)
    assert ((north > 0) == (lat > ORIGIN_LAT)).all() and ((east > 0) == (lon > ORIGIN_LON)).all()


@pytest.mark.parametrize("hide_pyarrow", [False, True])
def test_csv_round_trip_with_either_writer(tmp_path, monkeypatch, hide_pyarrow):
    if hide_pyarrow:
        monkeypatch.setattr(output, "_arrow", lambda: (None, None))  # pandas writes
    else:
        pytest.importorskip("pyarrow")
    df = pd.DataFrame(
        {
            "x": [0.1, 1e-300, np.nan, 2.0 / 3.0],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
            "s": ["plain", 'with "quote"', None, "a, b"],
            "label": ["background", "aftershock", "background", "aftershock"],
        }
    )
    out = tmp_path / "t.csv"
    write_table(df, out)
    back = pd.read_csv(out, dtype={"n": "Int64"})
    assert list(back.columns) == list(df.columns)
    np.testing.assert_array_equal(back["x"].to_numpy(), df["x"].to_numpy())  # exact floats
    assert back["n"].tolist() == df["n"].tolist()
    assert back["s"].fillna("<NA>").tolist() == df["s"].fillna("<NA>").tolist()
    assert out.read_text().splitlines()[0] == "x,n,s,label"


def test_block_wise_csv_equals_the_whole_table(tmp_path, tiny_models, monkeypatch):
    """`lite-decluster run`'s CSV path (input read again in blocks) writes what the API
    returns, with an input column clashing with a result column and many small blocks."""
    import lite_decluster.assemble as dec
    import lite_decluster.catalog.source as cat
    from lite_decluster.declustering import label_catalog, labelled_blocks
    from lite_decluster.output import write_csv_blocks

    src = pd.read_csv(EXAMPLE).rename(columns={"depth": "eta"})  # 'eta' clashes
    path = tmp_path / "cat.csv"
    src.to_csv(path, index=False)
    cols = {"depth": "eta"}
    whole, _ = run_decluster(path, models_directory=tiny_models, threads=1, columns=cols)
    write_table(whole, tmp_path / "whole.csv")
    monkeypatch.setattr(cat, "_BLOCK_BYTES", 4096)
    monkeypatch.setattr(dec, "_WRITE_BLOCK_BYTES", 3000)  # written in other blocks than read
    done = label_catalog(path, models_directory=tiny_models, threads=1, columns=cols,
                         keep_raw=False, keep_events=False)
    assert done.raw is None and done.events is None
    write_csv_blocks(labelled_blocks(path, done.labels, done.info), tmp_path / "blocks.csv")
    assert (tmp_path / "blocks.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert "eta_ld" in pd.read_csv(tmp_path / "blocks.csv", nrows=1).columns

    # The input changed in between: refused, and nothing is written.
    with open(path, "a") as f:
        f.write(f"{src.iloc[-1, 0]},34.0,-117.0,5.0,3.0\n")
    with pytest.raises(DeclusterError, match="changed while it was being declustered"):
        write_csv_blocks(labelled_blocks(path, done.labels, done.info), tmp_path / "late.csv")
    assert not (tmp_path / "late.csv").exists()
    assert any("eta -> eta_ld" in n for n in done.info.notes)
