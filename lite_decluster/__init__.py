"""lite-decluster: Random Forest declustering of earthquake catalogs with ONNX models."""

from lite_decluster.catalog import CatalogError, load_catalog, read_catalog
from lite_decluster.declustering import RunInfo, decluster, run_decluster
from lite_decluster.features import FeatureSpec, compute_features, get_spec
from lite_decluster.magnitudes import estimate_b, estimate_mc
from lite_decluster.model import load_model

__version__ = "0.1.0"

__all__ = [
    "CatalogError",
    "FeatureSpec",
    "RunInfo",
    "compute_features",
    "decluster",
    "estimate_b",
    "estimate_mc",
    "get_spec",
    "load_catalog",
    "load_model",
    "read_catalog",
    "run_decluster",
]
