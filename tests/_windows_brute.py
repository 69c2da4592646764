"""Small O(N^2) reference implementations of the window methods (tests only).

Written straight from the definitions in docs/windows.md, one pair at a time, with haversine
distances: slow and obvious, for checking lite_decluster.windows on small catalogs.
"""

from __future__ import annotations

import math

import numpy as np

from lite_decluster.windows import INTERACTIONS, window_size

R_EARTH = 6371.0


def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R_EARTH * math.asin(min(1.0, math.sqrt(a)))


def brute_gk(t, lat, lon, m, window="gardner-knopoff", fs=0.0):
    """(mainshock, parent, cluster) by checking every pair."""
    n = len(t)
    L, T = window_size(np.asarray(m), window)
    parent = [-1] * n
    for j in range(n):
        best = -1
        for i in range(n):
            if i == j or not m[j] < m[i] or L[i] <= 0:
                continue
            dt = t[j] - t[i]
            in_time = (0 < dt < T[i]) if fs == 0 else (-fs * T[i] < dt < T[i])
            if in_time and haversine(lat[i], lon[i], lat[j], lon[j]) < L[i]:
                if best < 0 or m[i] > m[best]:
                    best = i
        parent[j] = best
    cluster = []
    for j in range(n):
        k = j
        while parent[k] >= 0:
            k = parent[k]
        cluster.append(k)
    return np.array([p < 0 for p in parent]), np.array(parent), np.array(cluster)


def brute_reasenberg(t, lat, lon, m, z, *, tau_min=1.0, tau_max=10.0, p=0.95, xk=0.5,
                     xmeff=1.5, rfact=10.0, horiz_error=1.5, depth_error=2.0,
                     interaction="kanamori", bruces_rules=False):
    """(mainshock, cluster) following the rules one pair at a time.

    ``bruces_rules`` reproduces, from bruces 0.5.0's documented behaviour, how it picks a
    cluster's largest event: a new pair's is the later event on equal magnitudes, an event joining
    a cluster replaces it only when strictly larger, and after a merge of two clusters the
    cluster keeps the *smaller* of the two largest events (the comparison in its merge step is
    inverted); the look-ahead then starts from that event.
    """
    n = len(t)
    r = INTERACTIONS[interaction](np.asarray(m, dtype=float))

    def dist(a, b):
        h = max(haversine(lat[a], lon[a], lat[b], lon[b]) - horiz_error, 0.0)
        v = max(abs(z[a] - z[b]) - depth_error, 0.0)
        return math.hypot(h, v)

    def better(a, b):  # a better mainshock than b: larger, then earlier
        return m[a] > m[b] or (m[a] == m[b] and a < b)

    lab = [-1] * n
    main = {}
    next_id = 0
    for i in range(n - 1):
        if lab[i] < 0:
            tau, k = tau_min, -1
        else:
            k = main[lab[i]]
            if m[i] > m[k]:  # only reachable with bruces_rules
                main[lab[i]] = k = i
            if k == i:
                tau, k = tau_min, -1
            else:
                dm = max((1 - xk) * m[k] - xmeff, 0.0)
                tau = -math.log(1 - p) * (t[i] - t[k]) / 10 ** ((dm - 1) * 2 / 3)
                tau = min(max(tau, tau_min), tau_max)
        for j in range(i + 1, n):
            if not t[j] - t[i] < tau:
                break
            if lab[i] >= 0 and lab[j] == lab[i]:
                continue
            linked = dist(i, j) < rfact * r[i]
            if not linked and k >= 0 and tau > tau_min:
                linked = dist(k, j) < r[k]
            if not linked:
                continue
            if lab[i] < 0 and lab[j] < 0:
                lab[i] = lab[j] = next_id
                if bruces_rules:
                    main[next_id] = i if m[i] > m[j] else j
                else:
                    main[next_id] = i if better(i, j) else j
                next_id += 1
            elif lab[i] < 0:
                c = lab[i] = lab[j]
                if m[i] > m[main[c]] or (not bruces_rules and better(i, main[c])):
                    main[c] = i
            elif lab[j] < 0:
                c = lab[j] = lab[i]
                if m[j] > m[main[c]]:
                    main[c] = j
            else:
                keep, old = lab[i], lab[j]
                a, b = main[keep], main[old]
                if bruces_rules:
                    main[keep] = b if m[a] > m[b] else a
                else:
                    main[keep] = a if better(a, b) else b
                lab = [keep if c == old else c for c in lab]
                del main[old]
    cluster = np.array([e if lab[e] < 0 else main[lab[e]] for e in range(n)])
    return cluster == np.arange(n), cluster
