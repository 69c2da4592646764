"""``--method etas`` end to end: the same output as the other methods, the fit in the summary,
parameters reused from a file, clear errors for catalogs it cannot fit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from _fixtures import EXAMPLE
from typer.testing import CliRunner

from lite_decluster import cli
from lite_decluster.declustering import decluster


def _run(*args):
    return CliRunner().invoke(cli.app, ["run", *map(str, args)])


def test_etas_on_the_example(tmp_path):
    out, params = tmp_path / "o.csv", tmp_path / "fit.json"
    res = _run(EXAMPLE, "--method", "etas", "--end", "2003", "-o", out, "--etas-out", params,
               "--realizations", "3")
    assert res.exit_code == 0, res.stderr
    assert "branching ratio" in res.stderr and "converged" in res.stderr
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    raw = pd.read_csv(EXAMPLE)
    assert len(got) == len(raw)  # every row, in input order
    lab = got["label"].notna()
    assert got.loc[lab, "p_aftershock"].between(0, 1).all()
    assert ((got.loc[lab, "p_aftershock"] > 0.5) == (got.loc[lab, "label"] == "aftershock")).all()
    fit = json.loads(params.read_text())
    assert set(fit["params"]) == {"mu", "A", "alpha", "c", "p", "tau", "d", "q", "gamma"}
    assert fit["converged"] and all(np.isfinite(v) for v in fit["stderr"].values())

    # The fit reused as it is: no evaluation, the same parameters; the background map is
    # re-estimated from the data at those parameters, so probabilities agree closely.
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**fit, "fixed": "all"}))
    again = decluster(EXAMPLE, method="etas", end="2003",
                      method_options={"params_file": str(fixed)})
    summary = again.attrs["run"]["method_summary"]
    assert summary["n_evals"] == 0
    assert all(np.isclose(summary["params"][k], v) for k, v in fit["params"].items()
               if v is not None)
    p0 = got["p_aftershock"].to_numpy(dtype=float)
    p1 = again["p_aftershock"].to_numpy(dtype=float)
    assert np.nanmedian(np.abs(p1 - p0)) < 0.01
    assert (again.loc[lab, "label"] == got.loc[lab, "label"]).mean() > 0.99


def test_etas_refuses_what_it_cannot_fit(tmp_path):
    res = _run(EXAMPLE, "--method", "etas", "--end", "2000-01-20", "-o", tmp_path / "a.csv")
    assert res.exit_code == 2 and "etas" in res.stderr and "Traceback" not in res.stderr
    flat = tmp_path / "flat.csv"
    df = pd.read_csv(EXAMPLE).head(600)
    df["latitude"], df["longitude"] = 35.0, -117.0  # every epicentre in one place: no area
    df.to_csv(flat, index=False)
    res = _run(flat, "--method", "etas", "-o", tmp_path / "b.csv")
    assert res.exit_code == 2 and "area" in res.stderr, res.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"mu": 1.0, "beta": 2}')
    res = _run(EXAMPLE, "--method", "etas", "--etas-params", bad, "-o", tmp_path / "c.csv")
    assert res.exit_code == 2 and "beta" in res.stderr
    res = _run(EXAMPLE, "--method", "etas", "--mc", "1932:3,2005:2.7", "-o", tmp_path / "d.csv")
    assert res.exit_code == 2 and "one Mc" in res.stderr
