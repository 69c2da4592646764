"""The ONNX graph of a fitted scikit-learn forest (see :mod:`export.convert` for the layout
and why it is bit-identical to scikit-learn): forest access and proto building."""

from __future__ import annotations

import warnings

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
