"""Errors of a declustering run that are the user's to fix (all subclasses of ValueError)."""

from __future__ import annotations

__all__ = ["DeclusterError"]


class DeclusterError(ValueError):
    """Arguments or data that make declustering impossible (bad method, threshold, no NND mode)."""
