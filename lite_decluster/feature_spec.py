"""Feature specifications: which metric and which features a model was trained with.

Every model records its specification in the manifest, and the runtime computes exactly those
features (:func:`lite_decluster.features.compute_features`), so training and inference cannot
drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["EARTH_RADIUS_KM", "SPECS", "FeatureSpec", "get_spec"]

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class FeatureSpec:
    """Every choice that defines the features a model was trained on.

    Attributes
    ----------
    name : str
        ``"v2"`` (ours, relative to a time-permuted null), ``"v1"`` (ours, absolute) or
        ``"aden2021"`` (the published ``extract_features.py``).
    distance : {"great_circle", "euclidean_degrees"}
        ``great_circle``: great-circle epicentral distance in km on a sphere of radius
        ``earth_radius_km`` (with ``hypocentral``, the straight-line distance in km between
        hypocentres in Earth-centred coordinates). ``euclidean_degrees``: sqrt(dlat^2 + dlon^2)
        in degrees, as published (no antimeridian handling). Projected catalogs (x, y in km)
        always use Euclidean km.
    df : float
        Fractal dimension of epicentres (exponent of r).
    q : float
        Split of the magnitude weight between T and R.
    b : float or None
        Gutenberg-Richter b-value; None estimates it from the catalog (Aki-Utsu, Mc = the
        smallest magnitude in the catalog given, so cut the catalog at Mc first).
    min_distance : float
        Floor on r (km, or degrees for ``euclidean_degrees``); 0 disables it.
    hypocentral : bool
        Use hypocentral instead of epicentral distance (depth in km).
    features : tuple of str
        Model inputs in order; names among ``T, R, log10_T, log10_R, log10_eta, dm,
        n_siblings, n_offspring`` and, with a null (``null="time_permutation"``),
        ``rel_log10_T, rel_log10_R`` (log10 T and log10 R minus their medians in the null)
        and the catalog-level ``ctx_clustered`` (share of events whose log10 eta is below the
        null's 5 % quantile; about 0.05 without clustering) and ``ctx_sparse`` (share above
        the null's median; about 0.5 without clustering).
    count_scale : {"none", "rate"}
        ``rate`` divides sibling and offspring counts by (N - 1) / t_max, N events and t_max
        in days since the first event, as published (its table holds the N - 1 events that
        have a neighbour).
    siblings_include_self : bool
        Count the event itself among its siblings, as published.
    time_unit : str
        Always ``"days"``.
    null : {"none", "time_permutation"}
        ``time_permutation``: the same catalog with its times randomly permuted among the
        events (locations and magnitudes kept: a no-clustering null of the same density,
        geometry and magnitudes, as in Zaliapin & Ben-Zion 2020), searched the same way; the
        relative and context features are measured against it.
    null_seed : int
        Seed of the permutation (``numpy.random.default_rng``), so features are reproducible.
    null_sample : int
        With a null: how many of its events get their nearest parent searched (drawn at
        random, seeded by ``null_seed``); 0 searches all of them. Every event stays a
        candidate parent, so the sampled events' parents are exact.
    parent_floor : float
        Magnitude units below Mc down to which events are candidate parents (0: only events
        above Mc). Events between Mc - parent_floor and Mc are searched and can be a parent
        (and count as siblings and offspring), but get no label: about 10 % of the events
        above Mc are aftershocks of a parent below Mc, which a cut at Mc hides.
    """

    name: str = "v1"
    distance: str = "great_circle"
    df: float = 1.6
    q: float = 0.5
    b: float | None = None
    min_distance: float = 0.1
    hypocentral: bool = False
    features: tuple[str, ...] = ("log10_T", "log10_R", "dm", "n_siblings", "n_offspring")
    count_scale: str = "none"
    siblings_include_self: bool = False
    time_unit: str = "days"
    earth_radius_km: float = EARTH_RADIUS_KM
    null: str = "none"
    null_seed: int = 0
    null_sample: int = 0
    parent_floor: float = 0.0

    def __post_init__(self) -> None:
        if self.distance not in ("great_circle", "euclidean_degrees"):
            raise ValueError(f"unknown distance kind {self.distance!r}")
        if not self.df > 0:
            raise ValueError(f"df must be > 0, got {self.df}")
        if not 0.0 <= self.q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {self.q}")
        if self.b is not None and not self.b > 0:
            raise ValueError(f"b must be > 0, got {self.b}")
        if not self.min_distance >= 0:
            raise ValueError(f"min_distance must be >= 0, got {self.min_distance}")
        if self.count_scale not in ("none", "rate"):
            raise ValueError(f"unknown count_scale {self.count_scale!r}")
        unknown = set(self.features) - set(_FEATURE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown feature names {sorted(unknown)}")
        if self.time_unit != "days":
            raise ValueError("time_unit must be 'days'")
        if self.null not in ("none", "time_permutation"):
            raise ValueError(f"unknown null {self.null!r}")
        if int(self.null_sample) != self.null_sample or self.null_sample < 0:
            raise ValueError(f"null_sample must be an integer >= 0, got {self.null_sample}")
        if not (self.parent_floor >= 0 and self.parent_floor < 10):
            raise ValueError(f"parent_floor must be in [0, 10), got {self.parent_floor}")
        needs_null = set(self.features) & set(NULL_FEATURES)
        if needs_null and self.null == "none":
            raise ValueError(f"features {sorted(needs_null)} need null='time_permutation'")
        object.__setattr__(self, "features", tuple(self.features))

    @property
    def feature_names(self) -> list[str]:
        """Model input names, in order."""
        return list(self.features)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in model manifests)."""
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer spec).

        Fields left out take the values of the built-in specification of the same name, so a
        partial ``{"name": "aden2021", ...}`` never silently gets ``v1`` choices; a partial
        dict with an unknown name is an error.
        """
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"feature specification has unknown fields {sorted(extra)}")
        kw = dict(d)
        missing = known - set(kw)
        if missing:
            base = SPECS.get(str(kw.get("name", "v1")))
            if base is None:
                raise ValueError(
                    f"feature specification {kw.get('name')!r} lacks fields {sorted(missing)}"
                )
            kw = {**base.to_dict(), **kw}
        kw["features"] = tuple(kw["features"])
        return cls(**kw)


# Source column of each model input name (log10 transforms applied in feature_matrix).
_FEATURE_COLUMNS = {
    "T": "T",
    "R": "R",
    "log10_T": "T",
    "log10_R": "R",
    "log10_eta": "eta",
    "dm": "dm",
    "n_siblings": "n_siblings",
    "n_offspring": "n_offspring",
    "rel_log10_T": "rel_log10_T",
    "rel_log10_R": "rel_log10_R",
    "ctx_clustered": "ctx_clustered",
    "ctx_sparse": "ctx_sparse",
}
NULL_FEATURES = ("rel_log10_T", "rel_log10_R", "ctx_clustered", "ctx_sparse")


SPECS: dict[str, FeatureSpec] = {
    "v1": FeatureSpec(),
    "aden2021": FeatureSpec(
        name="aden2021",
        distance="euclidean_degrees",
        min_distance=0.0,
        features=("T", "R", "dm", "n_siblings", "n_offspring"),
        count_scale="rate",
        siblings_include_self=True,
    ),
    # v2: measured against the catalog's own time-permuted null, so that the features do not
    # move with a catalog's density per unit time and area, and with events down to Mc - 0.5
    # as candidate parents (docs/transfer-study.md).
    "v2": FeatureSpec(
        name="v2",
        features=("rel_log10_T", "rel_log10_R", "dm", "n_siblings", "n_offspring",
                  "ctx_clustered", "ctx_sparse"),
        null="time_permutation",
        null_sample=25_000,
        parent_floor=0.5,
    ),
}


def get_spec(spec: str | FeatureSpec | Mapping[str, Any] | None = None) -> FeatureSpec:
    """Resolve a specification given by name, dict (from a manifest) or object; None is v1."""
    if spec is None:
        return SPECS["v1"]
    if isinstance(spec, FeatureSpec):
        return spec
    if isinstance(spec, str):
        try:
            return SPECS[spec]
        except KeyError:
            raise ValueError(
                f"unknown feature specification {spec!r}; known: {list(SPECS)}"
            ) from None
    return FeatureSpec.from_dict(spec)
