"""The catalog reader's error: no heavy imports, so that any module can raise it."""

from __future__ import annotations

__all__ = ["CatalogError", "named"]


class CatalogError(ValueError):
    """A catalog that cannot be read; the message names the file, line and column."""


def named(table: object, message: str) -> str:
    """``message`` prefixed with the catalog's file name (``table.attrs["source"]``, set by
    ``load_catalog``) when it is known and not already there."""
    source = getattr(table, "attrs", {}).get("source")
    if source and not message.startswith(f"{source}:"):
        return f"{source}: {message}"
    return message
