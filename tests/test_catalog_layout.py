"""The catalog package's house rules: small modules, and no imports upward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lite_decluster" / "catalog"
MODULES = sorted(PACKAGE.glob("*.py"))
# What the reader may use of the rest of lite_decluster (completeness: only the lazy
# re-export of apply_completeness in __init__, for callers of the old module).
ALLOWED = {"lite_decluster.memory", "lite_decluster.completeness"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_upward_imports(path: Path) -> None:
    tree = ast.parse(path.read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {n for n in names if n.split(".")[0] == "lite_decluster"}
    upward = {n for n in ours if not n.startswith("lite_decluster.catalog") and n not in ALLOWED}
    assert not upward
    if path.name != "__init__.py":
        assert "lite_decluster.completeness" not in ours


def test_old_names_still_import() -> None:
    from lite_decluster.catalog import (  # noqa: F401
        FORMATS,
        CatalogError,
        CatalogReport,
        CatalogSource,
        LoadedCatalog,
        _open,
        _record_blocks,
        _record_ends,
        apply_completeness,
        load_catalog,
        open_catalog,
        read_catalog,
    )
    from lite_decluster.completeness import apply_completeness as moved

    assert apply_completeness is moved
