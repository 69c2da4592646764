"""Background density u(x) (1/km^2, integrating to 1 over the region).

* Homogeneous (x/y catalogs): ``u = 1 / area``.
* Kernel-smoothed (lon/lat catalogs), as Zhuang, Ogata & Vere-Jones (2002)::

      u(x) = sum_j phi_j k_j(|x - x_j|) / sum_j phi_j S_j

  over the target events j, with phi_j their background probabilities from the previous fit
  (all 1 at the start), ``k_j`` a Gaussian of bandwidth ``h_j`` = distance to the
  ``n_neighbours``-th nearest other target event (at least ``min_bandwidth`` km), truncated at
  ``support * h_j`` and renormalised (so the truncation is exact, not an approximation), and
  ``S_j`` the share of k_j inside the region (angular quadrature). The fit alternates between
  the ETAS parameters and this estimate (``fit.decluster_etas``). The sparse kernel matrix is
  built once (bandwidths do not change), memory O(n * pairs within the supports).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from lite_decluster.etas.geometry import EventGeometry, Rays

__all__ = ["SmoothBackground", "homogeneous"]

_CENTRE_BLOCK = 8192  # kernel centres per neighbour query


def homogeneous(n_target: int, area: float) -> np.ndarray:
    """``u = 1 / area`` (1/km^2) at every target event, shape (n_target,)."""
    return np.full(n_target, 1.0 / area)


class SmoothBackground:
    """Variable-bandwidth kernel estimate of the background density at the target events.

    Parameters
    ----------
    geom : EventGeometry
        Positions of every event.
    target : bool ndarray of shape (n,)
        The target events (kernel centres and evaluation points).
    rays : Rays
        Boundary crossings of every event (for the shares S_j).
    n_neighbours : int
        Bandwidth = distance to this nearest neighbour.
    min_bandwidth : float
        Smallest bandwidth (km).
    support : float
        Truncation radius in bandwidths.
    """

    def __init__(
        self,
        geom: EventGeometry,
        target: np.ndarray,
        rays: Rays,
        *,
        n_neighbours: int = 10,
        min_bandwidth: float = 0.5,
        support: float = 3.0,
    ) -> None:
        pos = np.flatnonzero(target)
        pts = geom.points[pos]
        n = pos.size
        k = min(n_neighbours, n - 1)
        tree = cKDTree(pts)
        if k >= 1:
            dist, _ = tree.query(pts, k=k + 1)
            h = np.maximum(geom.arc(np.asarray(dist)[:, k]), min_bandwidth)
        else:
            h = np.full(n, float(min_bandwidth))
        self.h = h
        self.support = support
        mass = -math.expm1(-0.5 * support**2)  # Gaussian mass within the support
        # Pairs (evaluation point a, centre b) with r_ab <= support * h_b, by bandwidth class
        # (half octaves) and in blocks of centres, so the candidate lists stay small; the set
        # kept does not depend on the classes or blocks.
        cls = np.floor(2.0 * np.log2(h / h.min())).astype(np.int64)
        rows, cols, vals = [], [], []
        for c in np.unique(cls):
            members = np.flatnonzero(cls == c)
            for lo in range(0, members.size, _CENTRE_BLOCK):
                centres = members[lo : lo + _CENTRE_BLOCK]
                rmax = support * float(h[centres].max())
                ctree = cKDTree(pts[centres])
                chord = float(geom.chord_for(np.array([rmax]))[0]) * (1 + 1e-9)
                found = ctree.sparse_distance_matrix(tree, chord, output_type="ndarray")
                b = centres[found["i"]]
                r = geom.arc(found["v"].copy())
                ok = r <= support * h[b]
                a = found["j"][ok].astype(np.int32)
                del found
                b, r = b[ok], r[ok]
                hb = h[b]
                vals.append(np.exp(-0.5 * (r / hb) ** 2) / (2 * math.pi * hb**2 * mass))
                rows.append(a)
                cols.append(b.astype(np.int32))
        self.kernel = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        del rows, cols, vals
        hall = np.full(geom.points.shape[0], np.inf)
        hall[pos] = h

        def cdf(e: np.ndarray, r2: np.ndarray) -> np.ndarray:
            he = hall[e]
            return np.minimum(-np.expm1(-0.5 * r2 / he**2) / mass, 1.0)

        self.share = rays.share(cdf)[pos]

    @property
    def n_pairs(self) -> int:
        """Stored kernel values."""
        return int(self.kernel.nnz)

    def density(self, phi: np.ndarray) -> np.ndarray:
        """u at the target events (1/km^2), shape (n_target,), for weights phi (n_target,)."""
        phi = np.asarray(phi, dtype=float)
        norm = float(phi @ self.share)
        if not norm > 0:
            raise ValueError("background weights are all zero")
        return (self.kernel @ phi) / norm
