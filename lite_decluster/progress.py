"""Progress on long work, drawn with rich (installed with typer), only on a terminal.

Redirected logs and pipes never receive progress: only the summary. The callable protocol is
``progress(stage, done, total)``: a new ``stage`` starts a new bar; ``total`` 0 means its size
is unknown (a pulsing bar).
"""

from __future__ import annotations

import sys
from typing import TextIO

__all__ = ["RichProgress", "stream_is_tty"]


def stream_is_tty(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: sys.stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


class RichProgress:
    """Callable ``progress(stage, done, total)``: one transient rich bar per stage, on stderr."""

    def __init__(self, stream: TextIO | None = None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(file=sys.stderr if stream is None else stream, force_terminal=True)
        self._bar = Progress(
            TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=True,
        )
        self._task = None
        self._stage: str | None = None
        self._bar.start()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            if self._task is not None:
                self._bar.remove_task(self._task)
            self._stage = stage
            self._task = self._bar.add_task(stage, total=total or None)
        self._bar.update(self._task, completed=done, total=total or None)

    def close(self) -> None:
        """Remove the bars (call when the work is done or failed)."""
        self._bar.stop()
