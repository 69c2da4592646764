"""What the command says and does when things go wrong: wording, signals, a failing figure."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _fixtures import EXAMPLE, example_csv, tiny_models
from typer.testing import CliRunner

from lite_decluster import cli

__all__ = ["example_csv", "tiny_models"]


def _main(*args: str, pre: str = "") -> subprocess.CompletedProcess:
    """``lite_decluster.cli.main`` in a fresh interpreter (its own signal handlers)."""
    code = pre + "\nfrom lite_decluster.cli import main\nmain(%r)\n" % [str(a) for a in args]
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("args, want, unwanted", [
    (["run", EXAMPLE, "--method", "NND"],
     "--method: 'NND' is not one of forest, nnd-threshold", "Value error"),
    (["run", EXAMPLE, "--bb", "1"], "unknown option --bb; did you mean --b?",
     "Possible options"),
    (["run", EXAMPLE, "--threshold", "2"], "--threshold: must be at most 1", "Input should"),
    (["run", EXAMPLE, "--realizations", "x"], "--realizations: must be a whole number",
     "unable to parse"),
])
def test_option_errors_in_plain_words(args, want, unwanted):
    res = _main(*args)
    assert res.returncode == 2
    assert want in res.stderr and unwanted not in res.stderr, res.stderr
    assert res.stderr.startswith("lite-decluster: error:")


def test_model_with_another_method_is_refused(example_csv, tiny_models):
    res = CliRunner().invoke(cli.app, ["run", str(example_csv), "--method", "nnd-threshold",
                                       "--model", "10", "--models-dir", str(tiny_models)])
    assert res.exit_code == 2 and "--model is for --method forest" in res.stderr


def test_format_must_match_the_suffix(example_csv, tiny_models):
    out = example_csv.with_name("x.csv")
    res = CliRunner().invoke(cli.app, ["run", str(example_csv), "--format", "parquet", "-o",
                                       str(out), "--models-dir", str(tiny_models)])
    assert res.exit_code == 2 and "does not match the output's suffix" in res.stderr
    assert not out.exists()


@pytest.mark.parametrize("sig, code, word", [("SIGTERM", 143, "terminated"),
                                             ("SIGINT", 130, "interrupted")])
def test_signal_while_writing_removes_the_temporary_file(example_csv, tiny_models, sig, code,
                                                         word):
    out = example_csv.with_name("out.csv")
    pre = (
        "import os, signal\n"
        # A background job may start with SIGINT ignored; Python's own handler raises
        # KeyboardInterrupt, as in a terminal.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import lite_decluster.labelled_text as t\n"
        "orig = t.format_fields\n"
        "def hit(*a, **k):\n"
        f"    os.kill(os.getpid(), signal.{sig})\n"
        "    return orig(*a, **k)\n"
        "t.format_fields = hit\n"
    )
    res = _main("run", example_csv, "-o", out, "--models-dir", tiny_models, pre=pre)
    assert res.returncode == code, res.stderr
    assert word in res.stderr
    assert sorted(p.name for p in example_csv.parent.iterdir()) == [example_csv.name]


def test_failing_figure_keeps_outputs_and_summary(example_csv, tiny_models, monkeypatch):
    pytest.importorskip("matplotlib")
    import lite_decluster.plot as plot

    def broken(*args, **kwargs):
        raise ValueError("Data cannot be log-scaled")

    monkeypatch.setattr(plot, "plot_declustered", broken)
    out, fig = example_csv.with_name("o.csv"), example_csv.with_name("f.png")
    res = CliRunner().invoke(cli.app, ["run", str(example_csv), "-o", str(out), "--plot",
                                       str(fig), "--models-dir", str(tiny_models)])
    assert res.exit_code == 2
    assert "classified" in res.stderr and f"wrote       {out}" in res.stderr
    assert "figure could not be drawn" in res.stderr and "log-scaled" in res.stderr
    assert out.is_file() and not fig.exists()


def test_summary_counts_read_naturally():
    from lite_decluster.runinfo import RunInfo

    info = RunInfo(source="x.csv", method="forest", n_rows=1, format="generic",
                   n_classified=1, n_background=1, n_aftershock=0, n_first=1, n_clusters=1,
                   threshold=0.5)
    text = "\n".join(info.lines())
    assert "1 row " in text and "1 rows" not in text
    assert "0 aftershocks" in text and "1 event:" in text and "1 background" in text
    info.n_aftershock, info.n_classified = 1, 2
    assert "1 aftershock (" in "\n".join(info.lines())


def test_missing_model_file_says_so(example_csv):
    res = CliRunner().invoke(cli.app, ["run", str(example_csv), "--model", "nothere.onnx"])
    assert res.exit_code == 2
    assert "model file nothere.onnx not found" in res.stderr and "manifest" not in res.stderr


def test_depth_options_reach_the_reader(tmp_path):
    import pandas as pd

    src = tmp_path / "cat.csv"
    df = pd.read_csv(EXAMPLE).head(500)
    df["depth"] = -df["depth"] * 1000.0  # metres, negative downwards
    df.to_csv(src, index=False)
    res = CliRunner().invoke(cli.app, ["run", str(src), "--method", "nnd-threshold",
                                       "-o", str(tmp_path / "o.csv")])
    assert res.exit_code == 0, res.stderr
    assert "metres" in res.stderr and "flipped" in res.stderr
    res = CliRunner().invoke(cli.app, ["run", str(src), "--method", "nnd-threshold",
                                       "--depth-unit", "km", "--depth-positive", "down",
                                       "-o", str(tmp_path / "o2.csv"), "--max-depth", "50"])
    assert res.exit_code == 0, res.stderr
    assert "metres" not in res.stderr and "flipped" not in res.stderr


@pytest.mark.parametrize("command", ["run", "models", "plot"])
def test_quick_help_is_typers_help(command):
    quick = _main(command, "--help")
    assert quick.returncode == 0 and "pydantic" not in quick.stderr
    full = CliRunner().invoke(cli.app, [command, "--help"], terminal_width=80)
    assert quick.stdout.split() == full.stdout.split()
