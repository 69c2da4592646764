"""ETAS parameters of the simulator (:mod:`export.etas`, whose docstring gives the model):
their validation, file format and the closed-form branching ratio."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ETASParams", "branching_ratio"]

_REQUIRED = (
    "mu", "A", "alpha", "c", "p", "d", "q", "gamma", "b", "mc", "mmax",
    "Lx", "Ly", "duration", "burn_in", "buffer",
)  # fmt: skip


@dataclass(frozen=True)
class ETASParams:
    """ETAS parameters (see the module docstring for the model).

    Attributes
    ----------
    mu : background events per day inside the target region (>= 0).
    A : productivity, expected direct offspring of an event of magnitude Mc (>= 0).
    alpha : productivity magnitude scaling (1 / magnitude unit).
    c : Omori-Utsu time offset (days, > 0).
    p : Omori-Utsu exponent (> 1).
    d : spatial scale of an event of magnitude Mc (km, > 0).
    q : spatial kernel exponent (> 1).
    gamma : magnitude scaling of the squared spatial scale (1 / magnitude unit).
    b : Gutenberg-Richter b-value (> 0).
    mc, mmax : completeness and maximum magnitude (mmax > mc).
    Lx, Ly : target region size (km); the region is [0, Lx] x [0, Ly].
    duration : target window length T (days); the window is [0, T].
    burn_in : days simulated before the window (>= 0).
    buffer : km added on every side of the region for the simulation (>= 0).
    tau : Omori taper time scale (days, > 0), or None for no taper.
    magnitude_bin : reported magnitude bin width (0 = continuous).
    depth_range : (min, max) depth in km for uniform depths, or None for depth 0.
    rate_map : relative background rates, shape (ny, nx) over the target region, or None for a
        uniform background. Stored as a tuple of tuples (hashable, JSON friendly).
    """

    mu: float
    A: float
    alpha: float
    c: float
    p: float
    d: float
    q: float
    gamma: float
    b: float
    mc: float
    mmax: float
    Lx: float
    Ly: float
    duration: float
    burn_in: float
    buffer: float
    tau: float | None = None
    magnitude_bin: float = 0.0
    depth_range: tuple[float, float] | None = None
    rate_map: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        for name in (*_REQUIRED, "magnitude_bin"):
            object.__setattr__(self, name, _as_float(name, getattr(self, name)))
        if self.tau is not None:
            object.__setattr__(self, "tau", _as_float("tau", self.tau))
        positive = {
            "c": "days",
            "p": None,
            "d": "km",
            "q": None,
            "b": None,
            "Lx": "km",
            "Ly": "km",
            "duration": "days",
        }
        for name, unit in positive.items():
            lower = 1.0 if name in ("p", "q") else 0.0
            if not getattr(self, name) > lower:
                why = " (the kernel is not normalisable otherwise)" if lower else ""
                raise ValueError(
                    f"{name} must be > {lower:g}{why}, got {getattr(self, name)!r}"
                    + (f" ({unit})" if unit else "")
                )
        for name in ("mu", "A", "burn_in", "buffer", "magnitude_bin"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not self.mmax > self.mc:
            raise ValueError(f"mmax must be > mc, got mmax={self.mmax!r}, mc={self.mc!r}")
        if self.tau is not None and not self.tau > 0:
            raise ValueError(f"tau must be > 0 days or None, got {self.tau!r}")
        if self.depth_range is not None:
            dr = tuple(_as_float("depth_range", v) for v in self.depth_range)
            if len(dr) != 2 or dr[0] > dr[1]:
                raise ValueError(f"depth_range must be (min, max) with min <= max, got {dr!r}")
            object.__setattr__(self, "depth_range", dr)
        if self.rate_map is not None:
            try:
                arr = np.asarray(self.rate_map, dtype=float)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"rate_map must be a 2-D array of numbers: {exc}") from None
            if arr.ndim != 2 or arr.size == 0:
                raise ValueError(f"rate_map must be a non-empty 2-D array, got shape {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0) or not arr.sum() > 0:
                raise ValueError("rate_map must be finite, >= 0 and not all zero")
            object.__setattr__(self, "rate_map", tuple(tuple(float(v) for v in r) for r in arr))

    @property
    def beta(self) -> float:
        """Gutenberg-Richter rate ``b ln 10`` (1 / magnitude unit)."""
        return self.b * math.log(10.0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ETASParams:
        """Build from a mapping; keys starting with ``_`` (comments) are ignored."""
        data = {k: v for k, v in data.items() if not str(k).startswith("_")}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ETAS parameter(s): {', '.join(unknown)}")
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise ValueError(f"missing ETAS parameter(s): {', '.join(missing)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> ETASParams:
        """Read a JSON object of parameters (``_``-prefixed keys such as ``_comment`` ignored)."""
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of ETAS parameters")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; ``ETASParams.from_dict(p.to_dict()) == p``."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.depth_range is not None:
            out["depth_range"] = list(self.depth_range)
        if self.rate_map is not None:
            out["rate_map"] = [list(r) for r in self.rate_map]
        return out


def _as_float(name: str, value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def branching_ratio(params: ETASParams) -> float:
    """Expected number of direct offspring per event, ``A E[exp(alpha (m - Mc))]``.

    Closed form under the truncated Gutenberg-Richter law (see the module docstring);
    ``inf`` if it overflows float64.
    """
    beta, span, s = params.beta, params.mmax - params.mc, params.alpha - params.beta
    try:
        integral = span if s == 0 else math.expm1(s * span) / s  # int_0^M exp(s x) dx
    except OverflowError:
        return math.inf
    return params.A * beta * integral / -math.expm1(-beta * span)
