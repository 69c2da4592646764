"""lite-decluster: Random Forest declustering of earthquake catalogs with ONNX models."""

from lite_decluster.catalog import CatalogError, read_catalog
from lite_decluster.features import FeatureSpec, compute_features, get_spec
from lite_decluster.magnitudes import estimate_b, estimate_mc

__version__ = "0.1.0"

__all__ = [
    "CatalogError",
    "FeatureSpec",
    "compute_features",
    "estimate_b",
    "estimate_mc",
    "get_spec",
    "read_catalog",
]
