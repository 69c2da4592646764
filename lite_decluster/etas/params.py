"""ETAS parameters and results: :class:`EtasResult`, JSON reading and writing."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lite_decluster.etas.errors import EtasError
from lite_decluster.etas.kernels import PARAM_NAMES

__all__ = ["SHIFTED", "EtasResult", "check_params", "load_etas_params", "save_etas_params"]

SHIFTED = ("p", "q")  # parameters that must exceed 1


@dataclass
class EtasResult:
    """Result of :func:`decluster_etas` (arrays aligned with the input events).

    Attributes
    ----------
    p_background : ndarray (n,) float, NaN outside the target (window and region).
    parent : ndarray (n,) int, most probable triggering event (-1: no candidate parent).
    in_target : ndarray (n,) bool.
    params, stderr : dict name -> float (stderr NaN for fixed parameters; tau inf when
        untapered).
    branching_ratio, loglik : float.
    converged : bool; n_evals : int (log-likelihood evaluations); message : str.
    info : dict of other figures (pairs, rounds, region, window, times).
    """

    p_background: np.ndarray
    parent: np.ndarray
    in_target: np.ndarray
    params: dict[str, float]
    stderr: dict[str, float]
    branching_ratio: float
    loglik: float
    converged: bool
    n_evals: int
    message: str
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-event arrays); inf/NaN become None."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        pb = self.p_background[self.in_target]
        return clean({
            "method": "etas",
            "params": dict(self.params),
            "stderr": dict(self.stderr),
            "branching_ratio": float(self.branching_ratio),
            "loglik": float(self.loglik),
            "converged": bool(self.converged),
            "n_evals": int(self.n_evals),
            "message": self.message,
            "n_target": int(self.in_target.sum()),
            "background_fraction": float(np.mean(pb > 0.5)) if pb.size else None,
            "expected_background_fraction": float(np.mean(pb)) if pb.size else None,
            **{k: v for k, v in self.info.items()},
        })


def load_etas_params(path: str | Path) -> dict[str, float]:
    """ETAS parameters from a JSON object (``_``-prefixed keys ignored; ``tau`` null = no
    taper), e.g. one written by :func:`save_etas_params`."""
    return read_etas_file(path)[0]


def read_etas_file(path: str | Path) -> tuple[dict[str, float], tuple[str, ...]]:
    """Parameters of a JSON file and the names to hold fixed.

    The file is a plain object of names (``save_etas_params``) or a fit summary with a
    ``"params"`` object (``EtasResult.to_dict``, what ``--etas-out`` writes); ``_``-prefixed
    keys are ignored. A top-level ``"fixed"`` lists the names to hold at their values, or is
    ``"all"`` to reuse a fit without fitting again.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise EtasError(f"{path}: cannot read ETAS parameters: {exc}") from None
    if not isinstance(data, dict):
        raise EtasError(f"{path}: expected a JSON object of ETAS parameters")
    fixed = data.get("fixed", ())
    params = data["params"] if isinstance(data.get("params"), dict) else data
    values = check_params({k: v for k, v in params.items()
                           if not str(k).startswith("_") and k != "fixed"}, path)
    if fixed == "all":
        fixed = tuple(values)
    if not isinstance(fixed, (list, tuple)) or not set(fixed) <= set(PARAM_NAMES):
        raise EtasError(f"{path}: 'fixed' must be \"all\" or a list of {', '.join(PARAM_NAMES)}")
    missing = sorted(set(fixed) - set(values))
    if missing:
        raise EtasError(f"{path}: fixed parameter(s) without a value: {', '.join(missing)}")
    return values, tuple(fixed)


def save_etas_params(path: str | Path, result: EtasResult | Mapping[str, float]) -> None:
    """Write the parameters (and, for a result, standard errors and figures as ``_`` keys)."""
    if isinstance(result, EtasResult):
        out: dict[str, Any] = {k: (None if not math.isfinite(v) else v)
                               for k, v in result.params.items()}
        out["_stderr"] = {k: (None if not math.isfinite(v) else v)
                          for k, v in result.stderr.items()}
        out["_branching_ratio"] = result.branching_ratio
        out["_loglik"] = result.loglik
    else:
        out = {k: (None if v is None or not math.isfinite(float(v)) else float(v))
               for k, v in result.items()}
    Path(path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


def check_params(data: Mapping[str, Any], where: Any = "params") -> dict[str, float]:
    unknown = sorted(set(data) - set(PARAM_NAMES))
    if unknown:
        raise EtasError(f"{where}: unknown ETAS parameter(s): {', '.join(unknown)}")
    out = {}
    for k, v in data.items():
        if k == "tau" and v is None:
            out[k] = math.inf
            continue
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise EtasError(f"{where}: {k} must be a number, not {v!r}") from None
        if math.isnan(out[k]) or (math.isinf(out[k]) and k != "tau"):
            raise EtasError(f"{where}: {k} must be finite, not {v!r}")
    for k, v in out.items():
        lo = 1.0 if k in SHIFTED else 0.0
        if not v > lo and not (k in ("alpha", "gamma") and v >= 0):
            raise EtasError(f"{where}: {k} must be > {lo:g}, not {v!r}")
    return out
