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

# The graph and its checks live in their own modules; this one writes files and is the
# export stage's single import point for both (re-exported below).
from export.onnx_forest import (  # noqa: F401
    _LEAF,
    ADEN2021_FEATURES,
    INPUT_NAME,
    IR_VERSION,
    ML_DOMAIN,
    OPSET_DEFAULT,
    OPSET_ML,
    OUTPUT_NAME,
    PRODUCER_NAME,
    PRODUCER_VERSION,
    PROTOBUF_LIMIT,
    _trees,
    count_nodes,
    forest_stores_counts,
    forest_to_onnx,
)
from export.onnx_parity import (  # noqa: F401
    ParityError,
    _run,
    _session,
    check_parity,
    reference_proba,
    skl2onnx_crosscheck,
)

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
