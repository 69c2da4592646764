"""The evaluation suite end to end at small scale (CI), and its caching."""

from __future__ import annotations

import json
import time

import numpy as np

from export import cases, evaluate
from export.evaluation_report import load_results


def test_small_suite_runs_resumes_and_reports(tmp_path):
    t0 = time.perf_counter()
    lines: list[str] = []
    methods = [*evaluate.DEFAULT_METHODS, "dbscan", "no_such_module:fn"]
    evaluate.run("small", methods, jobs=1, work=tmp_path, log=lines.append)
    small = cases.cases("small")
    for case in small:
        for i in range(case.n_catalogs):
            for m in methods:
                assert evaluate.result_path(tmp_path, "small", case.name, i, m).exists()
    res = load_results(tmp_path, "small")
    rec = res["in-distribution"]["dbscan"][0]
    assert rec["status"] == "unavailable" and "dbscan" in rec["reason"]
    assert res["in-distribution"]["no_such_module:fn"][0]["status"] == "unavailable"
    assert res["in-distribution"]["reference"][0]["status"] == "unavailable"
    for case in small:  # the ceiling is never beaten by much and Poisson ceilings are exact
        ceiling = res[case.name]["ceiling-all"][0]["metrics"]
        assert ceiling["n"] > 0
        if case.group == "poisson":
            assert ceiling["accuracy"] == 1.0
    # resumable: a second run finds everything cached
    again: list[str] = []
    evaluate.run("small", methods, jobs=1, work=tmp_path, log=again.append)
    # the header and the done line, and the unavailable methods tried again (and only they)
    retried = again[1:-1]
    assert all("unavailable" in line for line in retried), retried
    assert len(retried) == sum(1 for line in lines if "unavailable" in line)
    assert evaluate.cli(["--scale", "small", "--work", str(tmp_path), "--report-only",
                         "--docs", str(tmp_path / "docs")]) == 0  # fmt: skip
    text = (tmp_path / "docs" / "evaluation.md").read_text()
    for case in small:
        assert f"### {case.name}" in text
        assert (tmp_path / "docs" / "figures" / f"evaluation_{case.name}.png").exists()
    assert time.perf_counter() - t0 < 120


def test_catalogs_are_deterministic_and_labelled():
    for case in cases.cases("small"):
        a = cases.make_catalog(case, 0, "small")
        b = cases.make_catalog(case, 0, "small")
        assert np.array_equal(a.time, b.time) and np.array_equal(a.magnitude, b.magnitude)
        assert np.all(np.diff(a.time) >= 0)
        df = a.to_frame()
        assert len(df) == len(a)
        if a.lon is not None:
            assert df["longitude"].between(-180, 180).all()


def test_full_scale_case_list_covers_the_issue():
    names = {c.name for c in cases.cases("full")}
    for want in ("in-distribution", "poisson-1k-10km", "poisson-1M-global",
                 "poisson-10k-antimeridian", "poisson-10k-pole", "poisson-10k-100km-mc6",
                 "sweep-rate-x0.1", "sweep-rate-x100", "sweep-size-L30km-sphere",
                 "sweep-size-L3000km-sphere", "sweep-mc3", "realism-faults",
                 "realism-incompleteness", "realism-rolloff", "realism-location",
                 "realism-stepped-mc"):  # fmt: skip
        assert want in names
    assert cases.get_case("in-distribution").n_catalogs == 100


def test_rolloff_case_keeps_the_branching_ratio():
    from export.etas import branching_ratio

    cat = cases.make_catalog(cases.get_case("realism-rolloff", "small"), 0, "small")
    assert cat.params.mc == 1.5
    assert abs(branching_ratio(cat.params) - 0.85) < 0.01
    json.dumps(cat.params.to_dict())
