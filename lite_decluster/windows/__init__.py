"""Classic window declustering methods: Gardner & Knopoff (1974) and Reasenberg (1985).

Pure numpy/scipy; neighbour searches with scipy's cKDTree on great-circle distances.

>>> from lite_decluster.windows import WindowResult, gardner_knopoff, reasenberg, WINDOWS
"""

from lite_decluster.windows._common import WindowResult
from lite_decluster.windows.gardner_knopoff import WINDOWS, gardner_knopoff, window_size
from lite_decluster.windows.reasenberg import INTERACTIONS, reasenberg

__all__ = [
    "INTERACTIONS",
    "WINDOWS",
    "WindowResult",
    "gardner_knopoff",
    "reasenberg",
    "window_size",
]
