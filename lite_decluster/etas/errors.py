"""The one exception of the ETAS method."""

from __future__ import annotations

__all__ = ["EtasError"]


class EtasError(ValueError):
    """Bad input or a failed fit, with a one-line message meant for the user."""
