"""A tiny dependency-free progress printer for terminals.

Only the command line uses it, and only when stderr is a terminal: redirected logs and pipes
never receive carriage returns or partial lines.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressPrinter", "stream_is_tty"]


def stream_is_tty(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default: sys.stderr) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False


class ProgressPrinter:
    """Callable ``progress(stage, done, total)`` drawing one self-overwriting line per stage.

    ``total`` of 0 means the stage's size is unknown: the stage name is shown with a spinner-free
    "..." until the stage changes. Redraws at most every ``interval`` seconds (and at the end).
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 0.1):
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.interval = interval
        self._stage: str | None = None
        self._last = 0.0
        self._start = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage:
            self.close()
            self._stage, self._start, self._last = stage, now, 0.0
        finished = total > 0 and done >= total
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        if total > 0:
            frac = min(max(done / total, 0.0), 1.0)
            filled = int(round(frac * self.width))
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"{stage:<10} [{bar}] {frac:6.1%} {done:,}/{total:,} {now - self._start:5.1f} s"
        else:
            text = f"{stage:<10} ..."
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """End the current line (call when the work is done or failed)."""
        if self._stage is not None:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._stage = None
