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


# ------------------------------------------------------- degenerate catalogs (issue 14)


def _write_rows(src, dest, n, *, one_time=False):
    lines = src.read_text().splitlines()
    rows = lines[1:n + 1]
    if one_time:  # every event at the first event's origin time
        t0 = rows[0].split(",", 1)[0]
        rows = [t0 + "," + r.split(",", 1)[1] for r in rows]
    dest.write_text("\n".join([lines[0], *rows]) + "\n")
    return dest


@pytest.mark.parametrize("case, n, extra", [
    ("one_event", 1, ["--mc", "0", "--b", "1"]),
    ("one_time", 30, []),
])
def test_run_and_plot_a_degenerate_catalog(example_csv, tiny_models, case, n, extra):
    # c63d095: "internal error: ValueError: Data cannot be log-scaled" (exit 1)
    cat = _write_rows(example_csv, example_csv.with_name(f"{case}.csv"), n,
                      one_time=case == "one_time")
    fig = cat.with_name(f"{case}.png")
    res = runner.invoke(cli.app, ["run", str(cat), "--models-dir", str(tiny_models),
                                  "--plot", str(fig), *extra])
    assert res.exit_code == 0, res.stderr
    assert is_png(fig)
    labelled = cat.with_name(f"{case}.declustered.csv")
    again = cat.with_name(f"{case}_again.png")
    res = runner.invoke(cli.app, ["plot", str(labelled), "-o", str(again)])
    assert res.exit_code == 0, res.stderr
    assert is_png(again)
    # the empty panels say why they are empty
    shown = figure(pd.read_csv(labelled))
    texts = [t.get_text() for ax in shown.axes for t in ax.texts]
    assert any("no event with T > 0" in t for t in texts), texts


# ----------------------------------------------------------- panels (issue 14, item 5)


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _panel(fig, word):
    return next(ax for ax in fig.axes if word in ax.get_title())


def test_tr_panel_is_a_density_above_20k_events(small_result, monkeypatch):
    from matplotlib.collections import PathCollection, QuadMesh

    from lite_decluster import plot_panels

    assert plot_panels.DENSITY_MIN == 20_000
    tr = _panel(figure(small_result), "T vs R")
    assert any(isinstance(c, PathCollection) and len(c.get_offsets()) > 100
               for c in tr.collections)
    assert not any(isinstance(c, QuadMesh) for c in tr.collections)
    monkeypatch.setattr(plot_panels, "DENSITY_MIN", 100)  # as if the catalog were large
    tr = _panel(figure(small_result), "T vs R")
    mesh = [c for c in tr.collections if isinstance(c, QuadMesh)]
    assert len(mesh) == 1 and "density" in tr.get_title()
    assert type(mesh[0].norm).__name__ == "LogNorm"
    assert not any(isinstance(c, PathCollection) and len(c.get_offsets()) > 100
                   for c in tr.collections)
    assert mesh[0].get_array().sum() == pytest.approx(
        np.isfinite(small_result["T"]).sum() - (small_result["T"] <= 0).sum(), abs=1)


def _no_overlaps(boxes):
    boxes = sorted(boxes, key=lambda b: b.x0)
    return all(a.x1 <= b.x0 + 0.5 for a, b in zip(boxes, boxes[1:], strict=False))


def _catalog_at(lon, lat, n=400, seed=0):
    """A labelled frame of ``n`` events around lists of (lon, lat) centres."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(lon), n)
    t = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, 400, n)),
                                                               unit="D")
    return pd.DataFrame({
        "time": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "longitude": (np.asarray(lon)[k] + rng.normal(0, 0.3, n) + 180) % 360 - 180,
        "latitude": np.asarray(lat)[k] + rng.normal(0, 0.3, n),
        "magnitude": rng.uniform(2.5, 5.0, n).round(1),
        "label": np.where(rng.random(n) < 0.4, "aftershock", "background"),
        "p_aftershock": rng.random(n), "eta": 10 ** rng.normal(-2, 1.5, n),
        "T": 10 ** rng.normal(-2, 1, n), "R": 10 ** rng.normal(-1, 1, n),
    })


@pytest.mark.parametrize("lon, lat, lo, hi", [
    ([-124.5, -108.5], [33.0, 40.0], -126.0, -107.0),  # ComCat-like: no -135..-97
    ([178.8, -178.8], [-17.5, -16.0], 177.0, 183.0),  # Fiji: across the antimeridian
])
def test_map_extent_and_ticks_from_the_data(lon, lat, lo, hi):
    fig = figure(_catalog_at(lon, lat))
    ax = _panel(fig, "map")
    renderer = _drawn(fig)
    x0, x1 = ax.get_xlim()
    assert lo <= x0 < x1 <= hi, (x0, x1)
    labels = [t for t in ax.get_xticklabels() if t.get_text() and x0 <= t.get_position()[0] <= x1]
    assert len(labels) >= 2
    assert _no_overlaps([t.get_window_extent(renderer) for t in labels])
    texts = [t.get_text() for t in labels]
    assert all(t.endswith(("W", "E", "°")) for t in texts), texts
    if hi > 180:
        assert any(t.endswith("W") for t in texts) and any(t.endswith("E") for t in texts)


def test_comcat_map_extent(shared_data, tiny_models):
    result = decluster(shared_data / "comcat_california_2015_2025_M2.5.csv",
                       models_directory=tiny_models)
    fig = figure(result)
    ax = _panel(fig, "map")
    x0, x1 = ax.get_xlim()
    assert -126.5 < x0 < -124.0 and -109.0 < x1 < -107.0, (x0, x1)
    renderer = _drawn(fig)
    labels = [t for t in ax.get_xticklabels() if t.get_text() and x0 <= t.get_position()[0] <= x1]
    assert _no_overlaps([t.get_window_extent(renderer) for t in labels])


def test_legends_sit_above_the_data_and_below_the_titles(small_result):
    fig = figure(small_result)
    renderer = _drawn(fig)
    legends = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        legends += 1
        box, frame = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.y0 >= frame.y1 - 1, ax.get_title()  # hides no bar or point
        assert ax.title.get_window_extent(renderer).y0 >= box.y1 - 1, ax.get_title()
    assert legends == 6


def test_counts_agree_between_title_and_legends(small_result):
    fig = figure(small_result)
    title = fig.get_suptitle()
    n_bg = int(title.split(" background")[0].rsplit(", ", 1)[1].replace(",", ""))
    eta = _panel(fig, "eta").get_legend()
    texts = [t.get_text() for t in eta.get_texts()]
    bg = next(t for t in texts if t.startswith("background"))
    shown = int(bg.split("(")[1].split(")")[0].replace(",", ""))
    note = eta.get_title().get_text()
    missing = int(note.split(" event")[0].replace(",", "")) if note else 0
    assert missing >= 1 and "without" in note  # the first event has no eta: said so
    assert shown + missing == n_bg
    map_texts = [t.get_text() for t in _panel(fig, "map").get_legend().get_texts()]
    assert f"background ({n_bg:,})" in map_texts


def test_run_labels_plot_from_compact_arrays(tiny_models, tmp_path, monkeypatch):
    # `run --plot` draws from the run's Labels: no frame of string columns over every row
    from _fixtures import EXAMPLE

    from lite_decluster.assemble import Labels
    from lite_decluster.declustering import label_catalog

    done = label_catalog(EXAMPLE, models_directory=tiny_models, keep_events=True)
    frame_fig = figure(done.labels.frame(), events=done.events)
    monkeypatch.setattr(Labels, "frame", lambda *a, **k: pytest.fail("frame built"))
    fig = figure(done.labels, events=done.events)
    assert fig.get_suptitle() == frame_fig.get_suptitle()
    assert is_png(plot_declustered(done.labels, tmp_path / "labels.png", events=done.events))
