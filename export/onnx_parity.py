"""Checks of a converted forest: ONNX probabilities against scikit-learn's, bit for bit, and a
cross-check against skl2onnx's own converter."""

from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import helper

from export.onnx_forest import ML_DOMAIN, _trees, _values_are_counts, forest_to_onnx


class ParityError(AssertionError):
    """ONNX probabilities differ from scikit-learn's; ``.result`` holds the counts."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------- checks


def _session(model_bytes):
    import onnxruntime as ort

    if isinstance(model_bytes, onnx.ModelProto):
        model_bytes = model_bytes.SerializeToString()
    elif isinstance(model_bytes, (str, os.PathLike)):
        model_bytes = str(model_bytes)
    return ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])


def _run(session, X32: np.ndarray, batch_size: int = 100_000) -> np.ndarray:
    in_name = session.get_inputs()[0].name
    out = np.empty(X32.shape[0], dtype=np.float64)
    for start in range(0, X32.shape[0], batch_size):
        stop = min(start + batch_size, X32.shape[0])
        res = session.run(None, {in_name: X32[start:stop]})[0]
        out[start:stop] = np.asarray(res, dtype=np.float64).reshape(stop - start, -1)[:, -1]
    return out


def reference_proba(forest, X) -> np.ndarray:
    """scikit-learn's class-1 probability for X cast to float32, in a reproducible order.

    The forest's ``n_jobs`` is set to 1 for the call (threads add trees in whatever order
    they finish, which changes the last bits) and restored afterwards. For trees that store
    counts (pickled by scikit-learn < 1.4, whose predict_proba normalised them), the old
    normalisation is replayed tree by tree.
    """
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    trees = _trees(forest)
    if any(_values_are_counts(est.tree_) for est in trees):
        acc = np.zeros((X32.shape[0], 2), dtype=np.float64)
        for est in trees:
            p = est.tree_.predict(X32)[:, :2]  # single output: [n, n_classes]
            normalizer = p.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            acc += p / normalizer
        acc /= len(trees)
        return acc[:, 1]
    old = forest.n_jobs
    try:
        forest.n_jobs = 1
        return forest.predict_proba(X32)[:, 1]
    finally:
        forest.n_jobs = old


def check_parity(forest, model_bytes, X) -> dict:
    """Run the ONNX model on ``X.astype(float32)`` and require bit-identical probabilities.

    ``model_bytes``: serialised model (bytes), a ModelProto or a path. Returns ``rows``,
    ``mismatches``, ``max_abs_diff``, ``ties_05`` (rows whose sklearn probability is exactly
    0.5) and ``nan_rows``; raises ParityError (an AssertionError) on any mismatch. Labels
    are never taken from onnxruntime: derive them from the probability.
    """
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if X32.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X32.shape}")
    expected = reference_proba(forest, X32)
    got = _run(_session(model_bytes), X32)
    diff = np.abs(got - expected)
    result = {
        "rows": int(X32.shape[0]),
        "mismatches": int(np.count_nonzero(got != expected)),
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "ties_05": int(np.count_nonzero(expected == 0.5)),
        "nan_rows": int(np.count_nonzero(np.isnan(X32).any(axis=1))),
    }
    if not np.array_equal(got, expected):
        raise ParityError(
            f"ONNX differs from scikit-learn on {result['mismatches']} of {result['rows']} "
            f"rows (max abs diff {result['max_abs_diff']:.3g})",
            result,
        )
    return result


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def skl2onnx_crosscheck(forest, X, *, ours=None, atol: float = 1e-6) -> dict:
    """Compare our export with skl2onnx's (old TreeEnsembleClassifier operator). Small forests.

    skl2onnx is run with a fixed model name (deterministic output) and ``zipmap=False``.
    Checks, raising AssertionError on failure:

    1. structure: walking every tree of both graphs from the root in step, each pair of
       nodes is of the same kind (leaf / ``BRANCH_LEQ`` branch) with the same feature id,
       and both graphs have the same number of nodes per tree;
    2. numbers: skl2onnx's float32 thresholds equal the largest float32 <= our float64
       threshold (skl2onnx's own rule, which makes ``x <= t`` agree for float32 x), and its
       leaf weights (float32, class-1 probability divided by the number of trees) times the
       number of trees equal our float64 leaf values within ``atol``;
    3. probabilities on X: both agree within ``atol`` on every row without NaN. Rows with
       NaN are skipped (counted as ``nan_rows_skipped``): skl2onnx 1.20 ignores sklearn's
       ``missing_go_to_left`` and always sends NaN to the false (right) branch.
    """
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    trees = _trees(forest)
    n_trees = len(trees)
    n_features = int(forest.n_features_in_)
    if ours is None:
        ours = forest_to_onnx(forest, feature_names=[f"f{i}" for i in range(n_features)])
    elif isinstance(ours, (bytes, bytearray)):
        ours = onnx.load_from_string(bytes(ours))
    theirs = convert_sklearn(
        forest,
        name="lite_decluster_skl2onnx",
        initial_types=[("X", FloatTensorType([None, n_features]))],
        options={id(forest): {"zipmap": False}},
        target_opset={"": 17, ML_DOMAIN: 3},
    )
    ensembles = [n for n in theirs.graph.node if n.op_type == "TreeEnsembleClassifier"]
    if len(ensembles) != 1:
        raise AssertionError(f"expected one TreeEnsembleClassifier, found {len(ensembles)}")
    t = _attrs(ensembles[0])
    modes = [m.decode() if isinstance(m, bytes) else str(m) for m in t["nodes_modes"]]
    their_nodes = {}  # (tree, node id) -> (mode, feature, float32 threshold, true, false)
    for i, key in enumerate(zip(t["nodes_treeids"], t["nodes_nodeids"], strict=True)):
        their_nodes[key] = (
            modes[i],
            t["nodes_featureids"][i],
            np.float32(t["nodes_values"][i]),
            t["nodes_truenodeids"][i],
            t["nodes_falsenodeids"][i],
        )
    class_ids = set(t["class_ids"])
    positive = 0 if class_ids == {0} else 1  # binary: skl2onnx stores one column (id 0)
    their_leaf = {}
    for tr, nd, ci, w in zip(
        t["class_treeids"], t["class_nodeids"], t["class_ids"], t["class_weights"], strict=True
    ):
        if ci == positive:
            their_leaf[(tr, nd)] = float(np.float32(w)) * n_trees

    ours_nodes = [n for n in ours.graph.node if n.op_type == "TreeEnsemble"]
    if len(ours_nodes) != n_trees:
        raise AssertionError(f"{len(ours_nodes)} TreeEnsemble nodes for {n_trees} trees")

    max_leaf_diff = 0.0
    for k, node in enumerate(ours_nodes):
        a = _attrs(node)
        splits = onnx.numpy_helper.to_array(a["nodes_splits"])
        weights = onnx.numpy_helper.to_array(a["leaf_weights"])
        n_theirs = sum(1 for key in their_nodes if key[0] == k)
        single_leaf = (
            len(a["nodes_featureids"]) == 1
            and a["nodes_trueleafs"][0] == 1
            and a["nodes_falseleafs"][0] == 1
            and a["nodes_truenodeids"][0] == a["nodes_falsenodeids"][0]
        )
        # stack of (our index, our index is a leaf, their node id)
        stack = [(a["nodes_truenodeids"][0], True, 0)] if single_leaf else [(0, False, 0)]
        visited = 0
        while stack:
            idx, is_leaf, tid = stack.pop()
            visited += 1
            mode, feat, thr32, t_true, t_false = their_nodes[(k, tid)]
            if is_leaf:
                if mode != "LEAF":
                    raise AssertionError(f"tree {k}: leaf in ours, {mode} in skl2onnx")
                diff = abs(their_leaf.get((k, tid), 0.0) - float(weights[idx]))
                max_leaf_diff = max(max_leaf_diff, diff)
                if diff > atol:
                    raise AssertionError(f"tree {k}: leaf weights differ by {diff:.3g}")
                continue
            if mode != "BRANCH_LEQ":
                raise AssertionError(f"tree {k}: branch in ours, {mode} in skl2onnx")
            if feat != a["nodes_featureids"][idx]:
                raise AssertionError(f"tree {k}: feature ids differ")
            t64 = float(splits[idx])
            want = np.float32(t64)
            if float(want) > t64:
                want = np.nextafter(want, np.float32(-np.inf))
            if thr32 != want:
                raise AssertionError(
                    f"tree {k}: skl2onnx threshold {thr32!r} is not the largest float32 <= "
                    f"ours ({t64!r})"
                )
            stack.append((a["nodes_falsenodeids"][idx], bool(a["nodes_falseleafs"][idx]), t_false))
            stack.append((a["nodes_truenodeids"][idx], bool(a["nodes_trueleafs"][idx]), t_true))
        if visited != n_theirs:
            raise AssertionError(f"tree {k}: {visited} nodes in ours, {n_theirs} in skl2onnx")

    X32 = np.ascontiguousarray(X, dtype=np.float32)
    p_ours = _run(_session(ours), X32)
    sess = _session(theirs)
    prob_name = next(o.name for o in sess.get_outputs() if "prob" in o.name.lower())
    p_theirs = np.empty(X32.shape[0])
    for start in range(0, X32.shape[0], 100_000):
        xb = X32[start : start + 100_000]
        p_theirs[start : start + xb.shape[0]] = sess.run([prob_name], {"X": xb})[0][:, 1]
    skipped = np.isnan(X32).any(axis=1)
    diff = np.abs(p_ours - p_theirs)
    bad = (diff > atol) & ~skipped
    result = {
        "rows": int(X32.shape[0]),
        "compared_rows": int((~skipped).sum()),
        "nan_rows_skipped": int(skipped.sum()),
        "max_abs_diff": float(diff[~skipped].max()) if (~skipped).any() else 0.0,
        "max_leaf_weight_diff": max_leaf_diff,
        "skl2onnx_bytes": len(theirs.SerializeToString()),
    }
    if bad.any():
        raise AssertionError(
            f"skl2onnx and our export disagree beyond {atol} on {int(bad.sum())} rows: {result}"
        )
    return result
