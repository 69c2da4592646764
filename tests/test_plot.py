"""The summary figure (lite_decluster.plot) and the plot command."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from _fixtures import example_csv, small_catalog, tiny_models
from typer.testing import CliRunner

from lite_decluster import cli
from lite_decluster.declustering import decluster
from lite_decluster.plot import PlotError, figure, plot_declustered

__all__ = ["example_csv", "tiny_models"]  # fixtures used here

pytest.importorskip("matplotlib")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


def is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG_MAGIC and data[12:16] == b"IHDR" and len(data) > 10_000


@pytest.fixture(scope="module")
def small_result(tiny_models):
    return decluster(small_catalog(), models_directory=tiny_models)


def test_figure_has_the_six_panels(small_result):
    fig = figure(small_result, title="example")
    titles = [ax.get_title() for ax in fig.axes]
    for word in ("T vs R", "eta", "probability", "events per", "cumulative", "map"):
        assert any(word in t for t in titles), f"no panel about {word!r}: {titles}"
    assert "example" in fig.get_suptitle()


def test_plot_written_atomically_as_png(small_result, tmp_path):
    out = plot_declustered(small_result, tmp_path / "fig.png")
    assert is_png(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]
    with pytest.raises(PlotError, match="figure type"):
        plot_declustered(small_result, tmp_path / "fig.jpg")
    with pytest.raises(ValueError, match="already exists"):
        plot_declustered(small_result, out, force=False)


def test_nnd_method_and_projected_catalog(tmp_path):
    cat = small_catalog()
    cat = cat[cat["type"] == "earthquake"]
    t0 = pd.to_datetime(cat["time"], utc=True)
    proj = pd.DataFrame({
        "time": (t0 - t0.min()).dt.total_seconds() / 86400.0,
        "x": (cat["longitude"] + 118.0) * 91.3,
        "y": (cat["latitude"] - 35.0) * 111.2,
        "magnitude": cat["mag"],
    })
    result = decluster(proj, method="nnd-threshold")
    out = plot_declustered(result, tmp_path / "nnd.png",
                           nnd_threshold=result.attrs["run"]["nnd_threshold"])
    assert is_png(out)
    fig = figure(result)
    map_ax = next(ax for ax in fig.axes if "map" in ax.get_title())
    assert map_ax.get_xlabel() == "x (km)"


def test_plot_command_from_the_labelled_csv(example_csv, tiny_models):
    res = runner.invoke(cli.app, ["run", str(example_csv), "--models-dir", str(tiny_models),
                                  "--plot", str(example_csv.with_name("run.png"))])
    assert res.exit_code == 0, res.stderr
    assert is_png(example_csv.with_name("run.png"))
    labelled = example_csv.with_name("example_catalog.declustered.csv")
    fig = example_csv.with_name("fig.png")
    res = runner.invoke(cli.app, ["plot", str(labelled), "-o", str(fig)])
    assert res.exit_code == 0, res.stderr
    assert is_png(fig)
    res = runner.invoke(cli.app, ["plot", str(labelled), "-o", str(fig)])
    assert res.exit_code == 2 and "already exists" in res.stderr
    res = runner.invoke(cli.app, ["plot", str(labelled), "-o", str(labelled), "--force"])
    assert res.exit_code == 2 and "input" in res.stderr
    res = runner.invoke(cli.app, ["plot", str(example_csv), "-o",
                                  str(example_csv.with_name("raw.png"))])
    assert res.exit_code == 2 and "not a labelled catalog" in res.stderr


def test_missing_matplotlib_message(small_result, example_csv, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(PlotError, match=r"pip install 'lite-decluster\[plot\]'"):
        plot_declustered(small_result, tmp_path / "fig.png")
    assert not (tmp_path / "fig.png").exists()
    small_result.to_csv(tmp_path / "labelled.csv", index=False)
    res = runner.invoke(cli.app, ["plot", str(tmp_path / "labelled.csv"), "-o",
                                  str(tmp_path / "fig.png")])
    assert res.exit_code == 2 and "lite-decluster[plot]" in res.stderr
    assert "Traceback" not in res.stderr
    res = runner.invoke(cli.app, ["run", str(example_csv), "--method", "nnd-threshold",
                                  "--plot", str(tmp_path / "run.png")])
    assert res.exit_code == 2 and "lite-decluster[plot]" in res.stderr
    assert not example_csv.with_name("example_catalog.declustered.csv").exists()


def test_unlabelled_rows_are_left_out(small_result, tmp_path):
    result = small_result.copy()
    result.loc[result.index[:200], "label"] = pd.NA
    assert is_png(plot_declustered(result, tmp_path / "part.png"))
    none = small_result.assign(label=pd.array([pd.NA] * len(small_result), dtype="string"))
    with pytest.raises(PlotError, match="no labelled events"):
        plot_declustered(none, tmp_path / "none.png")
    assert np.isfinite(small_result["p_aftershock"]).any()
