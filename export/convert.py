"""Convert a fitted scikit-learn forest into an ONNX model that onnxruntime runs bit for bit.

Layout (see docs / the measurements in onnx-measurements.md):

    X float32 [N, F] --Cast--> double --TreeEnsemble (one per tree)--> [N, 1] each
                     --Sum--> --Div(number of trees)--> p_aftershock double [N, 1]

Each ``TreeEnsemble`` (ai.onnx.ml opset 5) holds one tree with float64 thresholds compared
with ``<=`` (BRANCH_LEQ, true branch = sklearn's left child) and float64 leaf values equal to
that tree's class-1 probability. scikit-learn casts X to float32, compares against float64
thresholds, adds the per-tree probabilities in tree order into a float64 accumulator and
divides by the number of trees; this graph does the same operations in the same order, so
its output is bit-identical to ``forest.predict_proba(X.astype(np.float32))[:, 1]``.

NaN inputs are routed like scikit-learn >= 1.3 routes them: each split's
``missing_go_to_left`` flag becomes ``nodes_missing_value_tracks_true``.

This module is for the export stage only: it imports scikit-learn, skl2onnx and onnx.
The runtime (``lite_decluster.model``) needs numpy and onnxruntime only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper

PRODUCER_NAME = "lite-decluster-export"
PRODUCER_VERSION = "1"
# ONNX 1.16 level: IR 10, default opset 21, ai.onnx.ml 5 (the first with TreeEnsemble).
# onnxruntime >= 1.21 loads it; 1.20 and older refuse ai.onnx.ml opset 5.
IR_VERSION = 10
OPSET_DEFAULT = 21
OPSET_ML = 5
ML_DOMAIN = "ai.onnx.ml"
INPUT_NAME = "X"
OUTPUT_NAME = "p_aftershock"
PROTOBUF_LIMIT = 2**31  # a serialised ModelProto must stay below 2 GiB
# Feature order of Aden-Antoniow et al. (2021); used when lite_decluster.features is absent.
ADEN2021_FEATURES = ["T", "R", "dm", "n_siblings", "n_offspring"]

_LEAF = -1  # sklearn's children_left / children_right value for "no child"


class ParityError(AssertionError):
    """ONNX probabilities differ from scikit-learn's; ``.result`` holds the counts."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


# --------------------------------------------------------------------------- forest access


def _trees(forest) -> list:
    """Validate the forest and return its fitted trees (sklearn DecisionTree/ExtraTree)."""
    estimators = getattr(forest, "estimators_", None)
    if estimators is None:
        raise TypeError(f"{type(forest).__name__} is not a fitted forest (no estimators_)")
    if len(estimators) == 0:
        raise ValueError("the forest has no trees")
    if getattr(forest, "n_outputs_", 1) != 1:
        raise ValueError("only single-output forests are supported")
    n_classes = getattr(forest, "n_classes_", None)
    if not isinstance(n_classes, (int, np.integer)) or int(n_classes) != 2:
        raise ValueError(f"only binary classifiers are supported (n_classes_={n_classes!r})")
    n_features = int(forest.n_features_in_)
    for i, est in enumerate(estimators):
        tree_ = getattr(est, "tree_", None)
        if tree_ is None or not hasattr(est, "predict_proba"):
            raise TypeError(f"tree {i} ({type(est).__name__}) is not a fitted tree classifier")
        if tree_.n_outputs != 1 or int(tree_.n_classes[0]) != 2:
            raise ValueError(f"tree {i} is not a single-output binary tree")
        if tree_.n_features != n_features:
            raise ValueError(f"tree {i} has {tree_.n_features} features, forest {n_features}")
    return list(estimators)


def _values_are_counts(tree_) -> bool:
    """True when tree_.value holds weighted counts (scikit-learn < 1.4) instead of fractions."""
    v = tree_.value[:, 0, :]
    return bool(np.any(np.abs(v.sum(axis=1) - 1.0) > 1e-6))


def forest_stores_counts(forest) -> bool:
    """True if any tree stores class counts (pickled by scikit-learn < 1.4)."""
    return any(_values_are_counts(est.tree_) for est in _trees(forest))


def _leaf_probability(tree_) -> np.ndarray:
    """Class-1 probability per node, exactly as the tree's ``predict_proba`` computes it.

    scikit-learn >= 1.4 stores fractions in ``tree_.value`` and returns them unchanged;
    older versions stored weighted counts and divided by their sum (0 replaced by 1).
    """
    v = tree_.value[:, 0, :]
    if not _values_are_counts(tree_):
        return np.ascontiguousarray(v[:, 1], dtype=np.float64)
    normalizer = v.sum(axis=1)
    normalizer[normalizer == 0.0] = 1.0
    return v[:, 1] / normalizer


# --------------------------------------------------------------------------- proto building


def _attr_int(node: onnx.NodeProto, name: str, value: int) -> None:
    a = node.attribute.add()
    a.name = name
    a.type = AttributeProto.INT
    a.i = int(value)


def _attr_ints(node: onnx.NodeProto, name: str, values: np.ndarray) -> None:
    a = node.attribute.add()
    a.name = name
    a.type = AttributeProto.INTS
    a.ints.extend(values.tolist())


def _attr_tensor(node: onnx.NodeProto, name: str, values: np.ndarray, data_type: int) -> None:
    a = node.attribute.add()
    a.name = name
    a.type = AttributeProto.TENSOR
    a.t.data_type = data_type
    a.t.dims.append(values.shape[0])
    a.t.raw_data = np.ascontiguousarray(values).astype(values.dtype.newbyteorder("<")).tobytes()


def _fill_tree_node(node: onnx.NodeProto, tree_, index: int, in_name: str, out_name: str) -> int:
    """Write one sklearn tree into ``node`` as a TreeEnsemble; return the tree's node count."""
    left = tree_.children_left
    right = tree_.children_right
    n = left.shape[0]
    is_leaf = left == _LEAF
    interior = np.flatnonzero(~is_leaf)
    leaves = np.flatnonzero(is_leaf)
    leaf_values = _leaf_probability(tree_)[leaves]

    if interior.size == 0:
        # A single-leaf tree: one branch whose two sides both name leaf 0 (as the spec says).
        feature_ids = np.zeros(1, dtype=np.int64)
        splits = np.zeros(1, dtype=np.float64)
        true_ids = false_ids = np.zeros(1, dtype=np.int64)
        true_leafs = false_leafs = np.ones(1, dtype=np.int64)
        missing = None
    else:
        # sklearn numbers nodes in one array; opset 5 numbers interior nodes and leaves
        # separately, in the same relative order (so the root, node 0, stays index 0).
        new_id = np.empty(n, dtype=np.int64)
        new_id[interior] = np.arange(interior.size, dtype=np.int64)
        new_id[leaves] = np.arange(leaves.size, dtype=np.int64)
        lc = left[interior]
        rc = right[interior]
        feature_ids = tree_.feature[interior].astype(np.int64)
        splits = tree_.threshold[interior].astype(np.float64)
        true_ids = new_id[lc]
        false_ids = new_id[rc]
        true_leafs = is_leaf[lc].astype(np.int64)
        false_leafs = is_leaf[rc].astype(np.int64)
        missing = getattr(tree_, "missing_go_to_left", None)
        if missing is not None:
            missing = missing[interior].astype(np.int64)
            if not missing.any():
                missing = None  # all zero is the operator's default: NaN takes the false branch

    node.op_type = "TreeEnsemble"
    node.domain = ML_DOMAIN
    node.name = f"tree_{index:05d}"
    node.input.append(in_name)
    node.output.append(out_name)
    # attributes in name order, like onnx.helper.make_node writes them
    _attr_int(node, "aggregate_function", 1)  # SUM
    _attr_ints(node, "leaf_targetids", np.zeros(leaves.size, dtype=np.int64))
    _attr_tensor(node, "leaf_weights", leaf_values, TensorProto.DOUBLE)
    _attr_int(node, "n_targets", 1)
    _attr_ints(node, "nodes_falseleafs", false_leafs)
    _attr_ints(node, "nodes_falsenodeids", false_ids)
    _attr_ints(node, "nodes_featureids", feature_ids)
    if missing is not None:
        _attr_ints(node, "nodes_missing_value_tracks_true", missing)
    _attr_tensor(
        node, "nodes_modes", np.zeros(feature_ids.size, dtype=np.uint8), TensorProto.UINT8
    )  # 0 = BRANCH_LEQ: x <= threshold takes the true branch (sklearn's left child)
    _attr_tensor(node, "nodes_splits", splits, TensorProto.DOUBLE)
    _attr_ints(node, "nodes_trueleafs", true_leafs)
    _attr_ints(node, "nodes_truenodeids", true_ids)
    _attr_int(node, "post_transform", 0)  # NONE
    _attr_ints(node, "tree_roots", np.zeros(1, dtype=np.int64))
    return int(n)


def forest_to_onnx(
    forest,
    *,
    feature_names: list[str],
    model_name: str = "lite_decluster_rf",
    doc: str = "",
    metadata: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """Build the ONNX model (one opset-5 TreeEnsemble per tree, Sum, Div) for a binary forest.

    ``forest``: fitted RandomForestClassifier / ExtraTreesClassifier (any forest of 2-class
    sklearn tree classifiers). The output ``p_aftershock`` is the probability of
    ``forest.classes_[1]``. Deterministic: the same forest and arguments always give the
    same bytes. Built tree by tree, so memory is the forest plus the growing proto.
    """
    trees = _trees(forest)
    feature_names = [str(f) for f in feature_names]
    n_features = int(forest.n_features_in_)
    if len(feature_names) != n_features:
        raise ValueError(
            f"{len(feature_names)} feature names given, the forest has {n_features} features"
        )
    fitted_names = getattr(forest, "feature_names_in_", None)
    if fitted_names is not None and [str(f) for f in fitted_names] != feature_names:
        warnings.warn(
            f"forest was fitted with feature names {list(fitted_names)}, "
            f"exporting with {feature_names} (same column order assumed)",
            stacklevel=2,
        )

    model = onnx.ModelProto()
    model.ir_version = IR_VERSION
    model.producer_name = PRODUCER_NAME
    model.producer_version = PRODUCER_VERSION
    model.model_version = 1
    model.doc_string = doc
    for domain, version in (("", OPSET_DEFAULT), (ML_DOMAIN, OPSET_ML)):
        op = model.opset_import.add()
        op.domain = domain
        op.version = version

    graph = model.graph
    graph.name = model_name
    graph.doc_string = "features: " + ", ".join(feature_names)
    graph.input.append(
        helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])
    )
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.DOUBLE, ["N", 1]))

    cast = graph.node.add()
    cast.CopyFrom(
        helper.make_node(
            "Cast", [INPUT_NAME], ["X_double"], name="cast_to_double", to=TensorProto.DOUBLE
        )
    )

    n_nodes = 0
    tree_outputs = []
    for i, est in enumerate(trees):
        out = f"p_tree_{i:05d}"
        n_nodes += _fill_tree_node(graph.node.add(), est.tree_, i, "X_double", out)
        tree_outputs.append(out)

    graph.node.add().CopyFrom(helper.make_node("Sum", tree_outputs, ["p_sum"], name="sum_trees"))
    graph.initializer.append(
        helper.make_tensor("n_trees", TensorProto.DOUBLE, [], [float(len(trees))])
    )
    graph.node.add().CopyFrom(
        helper.make_node("Div", ["p_sum", "n_trees"], [OUTPUT_NAME], name="mean_over_trees")
    )

    classes = getattr(forest, "classes_", None)
    meta = {
        "feature_names": ",".join(feature_names),
        "n_trees": str(len(trees)),
        "n_nodes": str(n_nodes),
        "estimator": type(forest).__name__,
        "positive_class": str(classes[1]) if classes is not None else "1",
    }
    if metadata:
        meta.update({str(k): str(v) for k, v in metadata.items()})
    for key in sorted(meta):
        p = model.metadata_props.add()
        p.key = key
        p.value = meta[key]
    return model


def count_nodes(forest) -> int:
    """Total number of sklearn nodes (interior + leaves) in the forest."""
    return int(sum(est.tree_.node_count for est in _trees(forest)))


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


# --------------------------------------------------------------------------- files and CLI


def _feature_names_for(
    spec_name: str | None, feature_names: list[str] | None
) -> tuple[list[str], dict | None]:
    """Feature names (and the spec dict) from ``lite_decluster.features.get_spec`` when it
    knows ``spec_name``; else ``feature_names``; else, for aden2021, the paper's order."""
    names = None
    spec_dict = None
    if spec_name:
        try:
            from lite_decluster.features import get_spec

            spec = get_spec(spec_name)
            names = list(spec.feature_names)
            spec_dict = spec.to_dict() if hasattr(spec, "to_dict") else None
        except Exception as exc:  # the spec module may be absent or not know the name
            if feature_names is None and spec_name != "aden2021":
                raise ValueError(
                    f"no feature names for spec {spec_name!r} ({exc}); pass feature_names"
                ) from exc
    if names is not None and feature_names is not None and list(feature_names) != names:
        raise ValueError(f"feature names {feature_names} differ from spec {spec_name}: {names}")
    if names is None:
        names = list(feature_names) if feature_names is not None else list(ADEN2021_FEATURES)
    return names, spec_dict


def _spec_metadata(spec_name: str | None, spec_dict: dict | None) -> dict[str, str] | None:
    if spec_dict is not None:
        return {"feature_spec": json.dumps(spec_dict, sort_keys=True)}
    return {"feature_spec": json.dumps({"name": spec_name})} if spec_name else None


def _warn_pickle(path: Path) -> None:
    msg = (
        f"loading {path}: unpickling executes code stored in the file. "
        "Only load pickle/joblib files you trust."
    )
    print(f"WARNING: {msg}", file=sys.stderr)
    warnings.warn(msg, UserWarning, stacklevel=3)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model_atomic(
    model: onnx.ModelProto, out_path, *, external_data: bool | None = None
) -> dict:
    """Write ``model`` to ``out_path`` via a temp file and os.replace.

    If the proto would exceed the 2 GiB protobuf limit, tensors go to external data in
    ``<out_path>.data`` beside it (the integer node attributes must still fit in the proto;
    they take about 10 of the 16-17 bytes per node); ``external_data=True`` forces that (it
    moves the tensors of ``model`` itself out of the proto). Returns ``path``, ``bytes``
    (all files), ``sha256`` (of the .onnx file) and ``external_data`` (data file name or None).
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if external_data is None:
        external_data = model.ByteSize() >= PROTOBUF_LIMIT - (1 << 20)
    if not external_data:
        tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
        try:
            data = model.SerializeToString()
            sha = hashlib.sha256(data).hexdigest()
            size = len(data)
            with open(tmp, "wb") as f:
                f.write(data)
                del data
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out_path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return {"path": str(out_path), "bytes": size, "sha256": sha, "external_data": None}

    external = out_path.name + ".data"
    with tempfile.TemporaryDirectory(prefix=f".{out_path.name}.", dir=out_path.parent) as tmpdir:
        tmp = Path(tmpdir) / out_path.name
        onnx.save_model(
            model,
            str(tmp),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=external,
            size_threshold=1024,
            convert_attribute=True,  # the tree tensors are node attributes, not initializers
        )
        if (Path(tmpdir) / external).exists():  # absent if every tensor is under 1 KiB
            os.replace(Path(tmpdir) / external, out_path.with_name(external))
        else:
            external = None
        os.replace(tmp, out_path)
    size = out_path.stat().st_size
    if external:
        size += out_path.with_name(external).stat().st_size
    return {
        "path": str(out_path),
        "bytes": size,
        "sha256": _sha256_file(out_path),
        "external_data": external,
    }


def convert_pickle(
    path,
    out_path,
    *,
    spec_name: str,
    feature_names: list[str] | None = None,
    model_name: str = "lite_decluster_rf",
    doc: str = "",
    check_rows: int = 0,
) -> dict:
    """Load a forest from a pickle/joblib file (code execution: trusted files only!), convert
    it tree by tree and write ``out_path`` atomically. Prints and returns nodes, trees,
    bytes, sha256. ``check_rows`` > 0 runs check_parity on that many synthetic rows drawn
    around the forest's own thresholds before the forest is released.
    """
    import joblib

    path = Path(path)
    names, spec_dict = _feature_names_for(spec_name, feature_names)
    if not path.is_file():
        raise FileNotFoundError(f"no such forest file: {path}")
    _warn_pickle(path)
    t0 = time.perf_counter()
    try:
        forest = joblib.load(path)  # handles plain pickles as well as joblib files
    except (ImportError, AttributeError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise ValueError(
            f"cannot unpickle {path}: {type(exc).__name__}: {exc} (trees pickled by "
            "scikit-learn < 1.3 cannot be read by newer versions: load the file with the "
            "version that wrote it and re-save it with 1.3+, or convert there)"
        ) from exc
    t_load = time.perf_counter() - t0
    trees = _trees(forest)
    n_trees = len(trees)
    n_nodes = count_nodes(forest)
    if forest_stores_counts(forest):
        warnings.warn(
            "tree_.value holds class counts (pickle from scikit-learn < 1.4); leaves are "
            "normalised as that version's predict_proba did",
            stacklevel=2,
        )
    t0 = time.perf_counter()
    model = forest_to_onnx(
        forest,
        feature_names=names,
        model_name=model_name,
        doc=doc,
        metadata=_spec_metadata(spec_name, spec_dict),
    )
    t_convert = time.perf_counter() - t0
    parity = None
    if check_rows > 0:
        X = synthetic_rows(forest, check_rows)
        parity = check_parity(forest, model.SerializeToString(), X)
    del trees, forest  # keep only the proto while serialising
    info = save_model_atomic(model, out_path)
    info.update(
        {
            "trees": n_trees,
            "nodes": n_nodes,
            "feature_names": names,
            "feature_spec": spec_dict if spec_dict is not None else {"name": spec_name},
            "load_seconds": round(t_load, 3),
            "convert_seconds": round(t_convert, 3),
            "us_per_node": round(1e6 * t_convert / max(n_nodes, 1), 3),
            "bytes_per_node": round(info["bytes"] / max(n_nodes, 1), 2),
            "parity": parity,
        }
    )
    print(
        f"{info['path']}: trees={n_trees} nodes={n_nodes} bytes={info['bytes']} "
        f"sha256={info['sha256']}"
        + (f" external_data={info['external_data']}" if info["external_data"] else "")
    )
    print(
        f"  convert {t_convert:.2f} s ({info['us_per_node']} us/node), "
        f"{info['bytes_per_node']} bytes/node, features {', '.join(names)}"
    )
    if info["external_data"]:
        print(f"  proto above 2 GiB: tensors saved as external data in {info['external_data']}")
    if parity is not None:
        print(f"  parity: {parity}")
    return info


def synthetic_rows(forest, n_rows: int, seed: int = 0) -> np.ndarray:
    """Rows whose features are the forest's thresholds (as float32) and their float32
    neighbours: stresses every ``<=`` boundary. For parity checks without real data."""
    rng = np.random.default_rng(seed)
    n_features = int(forest.n_features_in_)
    pools = []
    for f in range(n_features):
        vals = []
        for est in _trees(forest)[:50]:
            t = est.tree_
            vals.append(t.threshold[(t.children_left != _LEAF) & (t.feature == f)])
        v = np.concatenate(vals).astype(np.float32) if vals else np.zeros(0, np.float32)
        if v.size == 0:
            v = np.zeros(1, np.float32)
        v = np.concatenate([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, -np.inf)])
        pools.append(np.unique(v))
    X = np.empty((n_rows, n_features), dtype=np.float32)
    for f, pool in enumerate(pools):
        X[:, f] = rng.choice(pool, size=n_rows)
    return X


def cli(argv: list[str] | None = None) -> int:
    """``python -m export convert FOREST.pkl --spec aden2021 -o out.onnx``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "convert":
        argv = argv[1:]
    parser = argparse.ArgumentParser(
        prog="python -m export convert",
        description="Convert a pickled scikit-learn forest to ONNX (opset-5 TreeEnsemble). "
        "Unpickling runs code from the file: only convert files you trust.",
    )
    parser.add_argument("forest", help="pickle or joblib file holding the fitted forest")
    parser.add_argument("-o", "--output", required=True, help="ONNX file to write")
    parser.add_argument("--spec", default="aden2021", help="feature spec name (default aden2021)")
    parser.add_argument(
        "--feature-names", default=None, help="comma-separated feature names (override spec)"
    )
    parser.add_argument("--name", default="lite_decluster_rf", help="ONNX graph name")
    parser.add_argument("--doc", default="", help="doc string stored in the model")
    parser.add_argument(
        "--check-rows",
        type=int,
        default=0,
        help="check bit-parity with scikit-learn on N synthetic threshold rows",
    )
    args = parser.parse_args(argv)
    names = args.feature_names.split(",") if args.feature_names else None
    try:
        convert_pickle(
            args.forest,
            args.output,
            spec_name=args.spec,
            feature_names=names,
            model_name=args.name,
            doc=args.doc,
            check_rows=args.check_rows,
        )
    except (OSError, ValueError, TypeError, ParityError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
