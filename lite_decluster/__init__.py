"""lite-decluster: declustering of earthquake catalogs (Random Forest with ONNX models, NND
threshold, Gardner-Knopoff and Reasenberg windows, ETAS).

The public names are imported on first use (PEP 562), so that ``import lite_decluster`` and the
command line's ``--help`` do not pay for pandas, scipy and onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "CatalogError": "lite_decluster.catalog",
    "FeatureSpec": "lite_decluster.features",
    "RunInfo": "lite_decluster.runinfo",
    "compute_features": "lite_decluster.features",
    "decluster": "lite_decluster.declustering",
    "declustered_catalog": "lite_decluster.declustered",
    "estimate_b": "lite_decluster.magnitudes",
    "estimate_mc": "lite_decluster.magnitudes",
    "feature_matrix": "lite_decluster.features",
    "get_spec": "lite_decluster.features",
    "load_catalog": "lite_decluster.catalog",
    "load_model": "lite_decluster.model",
    "read_catalog": "lite_decluster.catalog",
    "realizations": "lite_decluster.declustered",
    "run_decluster": "lite_decluster.declustering",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lite_decluster' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
