"""The catalog reader's error: no heavy imports, so that any module can raise it."""

from __future__ import annotations

__all__ = ["CatalogError"]


class CatalogError(ValueError):
    """A catalog that cannot be read; the message names the file, line and column."""
