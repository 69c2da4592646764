"""Load the shipped ONNX random-forest models and predict aftershock probabilities.

Runtime only: numpy, onnxruntime and the standard library (never scikit-learn).

Models live in the package ``lite_decluster.models_onnx`` (the repository folder
``models_onnx/``) next to ``manifest.json`` and ``golden.npz``. Every file is checked
against the sha256 in the manifest before onnxruntime sees it.

The models take float32 features ``X`` [n, F] and return ``p_aftershock`` float64; they
reproduce ``RandomForestClassifier.predict_proba(X.astype(float32))[:, 1]`` bit for bit.
Derive labels from the probability (``p > threshold``): no label output is used (onnxruntime
1.26.0 returns wrong labels from its classifier operators). NaN features are routed the way
scikit-learn routes them (each split's learned missing-value direction).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

MIN_ONNXRUNTIME = (1, 21)  # first version that runs ai.onnx.ml opset-5 TreeEnsemble
MANIFEST = "manifest.json"
# Rows per onnxruntime call: each tree's output for the batch is materialised (50 trees x
# 25k rows x 8 bytes = 10 MB), and onnxruntime's arena keeps its largest footprint; 25k rows
# cost about 6 % more time than 100k and a quarter of the memory.
DEFAULT_BATCH = 25_000


class ModelError(ValueError):
    """A model cannot be found, does not match its manifest, or gets unusable input."""


# --------------------------------------------------------------------------- files


def models_dir(directory=None) -> Path:
    """The folder holding manifest.json: ``directory`` if given, else the installed package
    ``lite_decluster.models_onnx`` (or ``models_onnx/`` of a source checkout)."""
    if directory is not None:
        return Path(directory)
    try:
        # a plain folder on disk for regular installs (zipped installs are not supported)
        return Path(str(importlib.resources.files("lite_decluster.models_onnx")))
    except ModuleNotFoundError:
        # source checkout: pyproject maps models_onnx/ to the package only when installed
        return Path(__file__).resolve().parent.parent / "models_onnx"


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(directory=None) -> dict:
    """Read and minimally validate ``manifest.json`` (schema 1)."""
    path = models_dir(directory) / MANIFEST
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise ModelError(f"no model manifest at {path}") from None
    except json.JSONDecodeError as exc:
        raise ModelError(f"model manifest {path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != 1:
        raise ModelError(f"{path}: unsupported manifest schema {manifest.get('schema')!r}")
    models = manifest.get("models")
    if not isinstance(models, list) or not models:
        raise ModelError(f"{path}: the manifest lists no models")
    for entry in models:
        missing = [k for k in ("name", "file", "sha256") if k not in entry]
        if missing:
            raise ModelError(f"{path}: model entry {entry.get('name')!r} lacks {missing}")
    return manifest


def _available(manifest: dict) -> str:
    return ", ".join(
        f"{e['name']} (td {e['td_fraction']})" if "td_fraction" in e else e["name"]
        for e in manifest["models"]
    )


def _find_entry(manifest: dict, model, where: Path) -> dict:
    """Manifest entry for None (default), a TD fraction (int or digit string) or a name."""
    models = manifest["models"]
    if model is None:
        default = manifest.get("default")
        if default is None:
            if len(models) == 1:
                return models[0]
            raise ModelError(f"{where / MANIFEST} names no default model")
        model = default
    if isinstance(model, bool):
        raise ModelError(f"invalid model selector {model!r}")
    if isinstance(model, (int, np.integer)) or (isinstance(model, str) and model.isdigit()):
        td = int(model)
        hits = [e for e in models if e.get("td_fraction") == td]
        if not hits:
            raise ModelError(f"no model with TD fraction {td}; available: {_available(manifest)}")
        return hits[0]
    if isinstance(model, str):
        for e in models:
            if e["name"] == model:
                return e
        raise ModelError(f"no model named {model!r}; available: {_available(manifest)}")
    raise ModelError(f"invalid model selector {model!r}")


def _looks_like_path(model) -> bool:
    if isinstance(model, os.PathLike):
        return True
    return isinstance(model, str) and (model.endswith(".onnx") or "/" in model or os.sep in model)


def _resolve(model, directory) -> tuple[dict, Path]:
    """(manifest entry, model file path) for any accepted ``model`` selector."""
    if _looks_like_path(model):
        path = Path(model)
        manifest_path = path.parent / MANIFEST
        if not path.is_file():
            raise ModelError(
                f"model file {path} not found (shipped models: --model 10, 25, 50, 75 or 100, "
                "or a name such as rf_td025; see lite-decluster models)"
            )
        if not manifest_path.is_file():
            raise ModelError(
                f"{path}: no {MANIFEST} beside the model file; its sha256 and feature spec "
                "cannot be checked, so it is refused"
            )
        manifest = load_manifest(path.parent)
        hits = [e for e in manifest["models"] if e["file"] == path.name]
        if not hits:
            raise ModelError(f"{path}: file not listed in {manifest_path}; refused")
        return hits[0], path
    where = models_dir(directory)
    manifest = load_manifest(where)
    entry = _find_entry(manifest, model, where)
    return entry, where / entry["file"]


def _read_checked(path: Path, expected: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"model file {path} is missing (expected sha256 {expected})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ModelError(
            f"model file {path} does not match its manifest: "
            f"expected sha256 {expected}, actual sha256 {actual}"
        )
    return data


# --------------------------------------------------------------------------- onnxruntime


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version)[:3])


def _onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError(f"onnxruntime is required to run the models: {exc}") from exc
    if _version_tuple(ort.__version__)[:2] < MIN_ONNXRUNTIME:
        need = ".".join(map(str, MIN_ONNXRUNTIME))
        raise ModelError(
            f"onnxruntime {ort.__version__} is too old: the models use the ai.onnx.ml opset-5 "
            f"TreeEnsemble operator, which needs onnxruntime >= {need} "
            f"(pip install 'onnxruntime>={need}')"
        )
    return ort


# --------------------------------------------------------------------------- model


class Model:
    """One verified ONNX forest and its onnxruntime session."""

    def __init__(self, *, entry: dict, path: Path, sha256: str, session):
        self.entry = entry
        self.name = entry["name"]
        self.path = Path(path)
        self.sha256 = sha256
        self.spec_dict = entry.get("feature_spec", {})
        self._session = session
        inp = session.get_inputs()[0]
        self.input_name = entry.get("input_name", inp.name)
        self.output_name = entry.get("output_name", session.get_outputs()[0].name)
        width = inp.shape[1] if len(inp.shape) == 2 else None
        names = self.spec_dict.get("features") or self.spec_dict.get("feature_names")
        if isinstance(width, int):
            self.n_features = width
        elif names:
            self.n_features = len(names)
        else:
            raise ModelError(f"{path}: cannot tell the number of features")
        if names and len(names) != self.n_features:
            raise ModelError(
                f"{path}: the model takes {self.n_features} features, its feature spec "
                f"lists {len(names)}"
            )
        self.feature_names = list(names) if names else None

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, n_features={self.n_features}, path='{self.path}')"

    def predict(self, features, *, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """Aftershock probability of every row of a :func:`compute_features` result, shape
        (n,) float64; NaN for rows without finite features (an event with no earlier one).

        The features must have been computed with this model's specification (the
        ``feature_spec`` in ``features.attrs``, e.g. ``compute_features(cat,
        spec=model.spec_dict)``); another specification is refused.
        """
        from lite_decluster.features import feature_matrix, get_spec

        got = getattr(features, "attrs", {}).get("feature_spec")
        want = get_spec(self.spec_dict)
        if got is None:
            raise ModelError("expected the DataFrame returned by compute_features")
        have = get_spec(got)
        if (have.name, have.df, have.q, have.hypocentral, have.distance) != (
                want.name, want.df, want.q, want.hypocentral, want.distance):
            raise ModelError(
                f"features computed with spec {have.name} (df {have.df:g}, q {have.q:g}) but "
                f"model {self.name} was trained on spec {want.name} (df {want.df:g}, "
                f"q {want.q:g}): use compute_features(..., spec=model.spec_dict)"
            )
        X = feature_matrix(features, self.spec_dict)
        ok = np.isfinite(X).all(axis=1)
        out = np.full(len(X), np.nan)
        if ok.any():
            out[ok] = self.predict_proba(X[ok], batch_size=batch_size)
        return out

    def predict_proba(
        self,
        X,
        *,
        batch_size: int = DEFAULT_BATCH,
        progress: Callable[[int, int], object] | None = None,
    ) -> np.ndarray:
        """Aftershock probability per row, float64 [n].

        ``X``: numeric array [n, F], cast to float32 batch by batch (as scikit-learn does;
        the model then widens to float64 exactly like sklearn's comparison). Runs in batches
        of ``batch_size`` rows and calls ``progress(done, total)`` after each batch.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            names = f" ({', '.join(self.feature_names)})" if self.feature_names else ""
            raise ModelError(
                f"model {self.name} expects an array of shape (n, {self.n_features})"
                f"{names}, got shape {X.shape}"
            )
        if X.dtype.kind not in "fiub":
            raise ModelError(f"features must be numeric, got dtype {X.dtype}")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ModelError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = X.shape[0]
        out = np.empty(n, dtype=np.float64)
        done = 0
        while done < n:
            stop = min(done + int(batch_size), n)
            xb = np.ascontiguousarray(X[done:stop], dtype=np.float32)
            res = self._session.run([self.output_name], {self.input_name: xb})[0]
            out[done:stop] = np.asarray(res, dtype=np.float64).reshape(stop - done)
            done = stop
            if progress is not None:
                progress(done, n)
        return out


def check_model(model=None, *, directory=None) -> dict:
    """The manifest entry of ``model`` (as for :func:`load_model`) after checking its file's
    sha256, without onnxruntime: a run can refuse a bad model before its long stages and open
    the session only when it is needed.
    """
    entry, path = _resolve(model, directory)
    _read_checked(path, entry["sha256"])
    return entry


def load_model(model=None, *, threads: int | None = None, directory=None) -> Model:
    """Load a model after checking its sha256 against the manifest.

    ``model``: None (the manifest's default), a TD fraction (10/25/50/75/100 or '25'), an
    entry name ('rf_td025') or a path to an .onnx file listed in a manifest.json beside it.
    ``threads``: onnxruntime intra-op threads (default: onnxruntime's choice).
    """
    entry, path = _resolve(model, directory)
    data = _read_checked(path, entry["sha256"])
    ort = _onnxruntime()
    opts = ort.SessionOptions()
    if threads is not None:
        if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 0:
            raise ModelError(f"threads must be a non-negative integer, got {threads!r}")
        opts.intra_op_num_threads = int(threads)
    try:
        session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"onnxruntime cannot load {path}: {exc}") from exc
    del data
    return Model(entry=entry, path=path, sha256=entry["sha256"], session=session)


def verify_models(directory=None) -> list[dict]:
    """Re-hash every model and check it reproduces the stored golden probabilities exactly.

    Returns one dict per manifest entry: ``name``, ``file``, ``sha_ok``, ``golden_ok``,
    ``max_abs_diff`` (None when not run) and ``error`` (None or a message).
    """
    where = models_dir(directory)
    manifest = load_manifest(where)
    golden_info = manifest.get("golden") or {}
    golden = None
    golden_error = None
    gpath = where / golden_info.get("file", "golden.npz")
    try:
        if "sha256" in golden_info:
            _read_checked(gpath, golden_info["sha256"])
        with np.load(gpath, allow_pickle=False) as z:
            golden = {k: z[k] for k in z.files}
    except (ModelError, OSError, ValueError) as exc:
        golden_error = f"golden file: {exc}"

    results = []
    for entry in manifest["models"]:
        res = {
            "name": entry["name"],
            "file": entry["file"],
            "sha_ok": False,
            "golden_ok": False,
            "max_abs_diff": None,
            "error": None,
        }
        results.append(res)
        path = where / entry["file"]
        try:
            actual = sha256_file(path)
        except OSError as exc:
            res["error"] = f"cannot read {path}: {exc}"
            continue
        res["sha_ok"] = actual == entry["sha256"]
        if not res["sha_ok"]:
            res["error"] = f"{path}: expected sha256 {entry['sha256']}, actual sha256 {actual}"
            continue
        if golden is None:
            res["error"] = golden_error
            continue
        key = f"p__{entry['name']}"
        if key not in golden or "X" not in golden:
            res["error"] = f"golden file has no {key!r} or 'X'"
            continue
        try:
            m = load_model(path, directory=where)
            p = m.predict_proba(golden["X"])
        except ModelError as exc:
            res["error"] = str(exc)
            continue
        expected = np.asarray(golden[key], dtype=np.float64)
        if p.shape != expected.shape:
            res["error"] = f"golden shape {expected.shape}, model gave {p.shape}"
            continue
        res["max_abs_diff"] = float(np.max(np.abs(p - expected))) if p.size else 0.0
        res["golden_ok"] = bool(np.array_equal(p, expected))
        if not res["golden_ok"]:
            n_bad = int(np.count_nonzero(p != expected))
            res["error"] = f"{n_bad} of {p.size} golden probabilities differ"
    return results
