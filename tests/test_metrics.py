"""export/metrics.py against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from export.metrics import catalog_metrics, expected_calibration_error, summarise


def test_catalog_metrics_by_hand():
    truth = np.array([0, 0, 0, 1, 1, 1, 1, 0], dtype=bool)  # 4 background
    pred = np.array([0, 0, 1, 1, 1, 0, 1, 0], dtype=bool)  # 4 labelled background
    p = np.array([0.1, 0.2, 0.7, 0.9, 0.8, 0.4, 0.6, 0.3])
    m = catalog_metrics(truth, pred, p)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["bg_precision"] == pytest.approx(3 / 4)  # events 0, 1, 7 of 0, 1, 5, 7
    assert m["bg_recall"] == pytest.approx(3 / 4)
    assert m["bg_share_true"] == 0.5 and m["bg_share_labels"] == 0.5
    assert m["bg_share_error"] == 0.0
    assert m["bg_share_expected"] == pytest.approx(1 - np.mean(p))
    assert m["bg_expected_error"] == pytest.approx(0.5 - np.mean(p))
    # bins: 0.1 |0.1-0|, 0.2 |0.2-0|, 0.3 |0.3-0|, 0.4 |0.4-1|, 0.6 |0.6-1|, 0.7 |0.7-0|,
    # 0.8 |0.8-1|, 0.9 |0.9-1|: one event per bin
    want = (0.1 + 0.2 + 0.3 + 0.6 + 0.4 + 0.7 + 0.2 + 0.1) / 8
    assert m["ece"] == pytest.approx(want)
    assert m["n"] == 8


def test_ece_pools_events_of_a_bin():
    p = np.array([0.12, 0.18, 1.0, 1.0])
    y = np.array([0, 1, 1, 1])
    # bin 1: mean p 0.15, mean y 0.5 -> 2/4 * 0.35; bin 9 (with p = 1): 0
    assert expected_calibration_error(p, y) == pytest.approx(0.5 * 0.35)


def test_no_probabilities_and_empty_classes():
    m = catalog_metrics(np.zeros(4, bool), np.ones(4, bool))
    assert m["accuracy"] == 0 and math.isnan(m["bg_precision"]) and m["bg_recall"] == 0
    assert math.isnan(m["ece"]) and math.isnan(m["bg_share_expected"])


def test_summarise_band():
    s = summarise([1.0, 2.0, 3.0, 4.0, 5.0, float("nan")])
    assert s["median"] == 3.0 and s["n"] == 5
    assert s["p32"] == pytest.approx(1 + 0.32 * 4) and s["p68"] == pytest.approx(1 + 0.68 * 4)
