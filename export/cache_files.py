"""Atomic JSON and pickle files of the export's caches (``export/work/``): written to a
temporary name beside the target and renamed, so an interrupted step never leaves a torn
file for the next run to trust."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

__all__ = ["read_json", "read_pickle", "write_json", "write_pickle"]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_json(path: Path, data: Any, *, indent: int = 2) -> None:
    """Write ``data`` as JSON (NaN allowed), atomically, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=indent)
        f.write("\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_pickle(path: Path, obj: Any) -> int:
    """Pickle ``obj`` atomically; returns the file size in bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return path.stat().st_size


def read_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)  # noqa: S301 - our own cache files
