"""What a declustering run did (counts, magnitudes, method, timings) and its summary text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["RunInfo", "note_spec_overrides", "start_info"]

_B_PLAUSIBLE = (0.7, 1.5)  # b-values outside this range usually mean a wrong Mc


@dataclass
class RunInfo:
    """What a declustering run did: counts, magnitudes, model, timings.

    Counts are input rows. ``n_classified`` = ``n_background + n_aftershock`` rows with a label,
    of which ``n_first`` had no earlier event (labelled background without a probability).
    Times are wall-clock seconds per stage (``read``, ``model``, ``features``, ``predict`` or
    ``classify`` for the NND method;
    the command line adds ``write``).
    """

    source: str
    method: str
    n_rows: int = 0
    format: str = ""
    n_type_dropped: int = 0
    type_counts: dict[str, int] = field(default_factory=dict)
    n_invalid_dropped: int = 0
    n_below_mc: int = 0
    #: of those below Mc, the events searched as candidate parents (spec ``parent_floor``)
    n_parent_only: int = 0
    n_classified: int = 0
    n_first: int = 0
    n_background: int = 0
    n_aftershock: int = 0
    n_selection_dropped: int = 0
    selection: str = ""
    n_clusters: int = 0
    expected_background: float | None = None
    method_summary: dict[str, Any] = field(default_factory=dict)
    method_lines: list[str] = field(default_factory=list)
    mc: float | None = None
    mc_method: str = ""
    b: float | None = None
    b_method: str = ""
    b_sigma: float | None = None
    b_n: int | None = None
    threshold: float | None = None
    nnd_threshold: float | None = None
    model_name: str | None = None
    model_td_fraction: float | None = None
    model_sha256: str | None = None
    model_path: str | None = None
    feature_spec: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    catalog_notes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # (size, mtime_ns) of the input file when read: a block-wise write checks it is unchanged.
    input_stat: tuple[int, int] | None = field(default=None, repr=False)

    @property
    def background_fraction(self) -> float | None:
        """Background share of the labelled events (None when none was labelled)."""
        return self.n_background / self.n_classified if self.n_classified else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (stored in ``result.attrs["run"]``)."""
        d = asdict(self)
        d.pop("input_stat")
        d["background_fraction"] = self.background_fraction
        return d

    def lines(self) -> list[str]:
        """Human summary, one item per line (what ``lite-decluster run`` prints on stderr)."""
        out = [f"read        {_n(self.n_rows, 'row')} ({self.format}) from {self.source}"]
        filtered = []
        if self.n_type_dropped:
            kinds = ", ".join(f"{k} {v:,}" for k, v in self.type_counts.items())
            filtered.append(f"{self.n_type_dropped:,} not "
                            f"{'an earthquake' if self.n_type_dropped == 1 else 'earthquakes'}"
                            f" ({kinds})")
        if self.n_invalid_dropped:
            filtered.append(f"{self.n_invalid_dropped:,} invalid")
        if self.n_selection_dropped:
            filtered.append(f"{self.n_selection_dropped:,} outside the selection "
                            f"({self.selection})")
        if self.mc is not None:
            below = "below Mc " + (f"{self.mc:g}" if not self.mc_method.startswith("periods")
                                   else "(periods)")
            filtered.append(f"{self.n_below_mc:,} {below}" + (
                f" ({self.n_parent_only:,} of them candidate parents only)"
                if self.n_parent_only else ""))
        out.append("filtered    " + (", ".join(filtered) if filtered else "none"))
        out.extend(f"            {note}" for note in self.catalog_notes)
        bg = self.background_fraction
        if self.method == "nnd-threshold":
            rule = f"log10 eta < {self.nnd_threshold:.2f}"
        elif self.threshold is not None:
            rule = f"p_aftershock > {self.threshold:g}"
        else:
            rule = "in a cluster, not its mainshock"
        out.append(
            f"classified  {_n(self.n_classified, 'event')}: {self.n_background:,} background"
            + (f" ({bg:.1%})" if bg is not None else "")
            + f", {_n(self.n_aftershock, 'aftershock')} ({rule})"
        )
        if self.expected_background is not None and self.n_classified:
            share = self.expected_background / self.n_classified
            out.append(f"            expected background {self.expected_background:,.0f} "
                       f"({share:.1%}; sum of 1 - p_aftershock)")
        if self.n_first:
            out.append(f"            {self.n_first:,} with no earlier event: labelled background")
        if self.n_classified:
            others = self.n_classified - self.n_clusters
            out.append(f"clusters    {self.n_clusters:,} (one mainshock each; "
                       f"{_n(others, 'other event')} in them)")
        if self.mc is None:
            out.append("Mc          none: every event kept")
        else:
            out.append(f"Mc          {self.mc:.2f} ({self.mc_method})")
        b_text = f"{self.b:.3f}" if self.b is not None else "-"
        if self.b_sigma is not None:
            b_text += f" ± {self.b_sigma:.3f}"
        extra = f", {_n(self.b_n, 'event')}" if self.b_n else ""
        out.append(f"b           {b_text} ({self.b_method}{extra})")
        if self.method == "forest":
            td = self.model_td_fraction
            td_text = f", TD fraction {td:g}%" if td is not None else ""
            out.append(
                f"model       {self.model_name}{td_text}, sha256 {(self.model_sha256 or '')[:12]}"
            )
        elif self.method == "nnd-threshold":
            out.append("method      NND threshold on log10 eta (Zaliapin & Ben-Zion 2013)")
        out.extend(self.method_lines)
        if self.method in ("forest", "nnd-threshold"):
            out.append("features    " + _describe_spec(self.feature_spec))
        out.extend(f"note        {note}" for note in self.notes)
        times = ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())
        out.append(f"time        {times} (total {sum(self.timings.values()):.2f} s)")
        return out


def _describe_spec(spec: Mapping[str, Any]) -> str:
    if not spec:
        return "-"
    if spec.get("distance") == "euclidean_degrees":
        dist = "epicentral distance in degrees"
    else:
        dist = ("hypocentral" if spec.get("hypocentral") else "epicentral") + " distance in km"
    return f"spec {spec.get('name')}, {dist}, df {spec.get('df'):g}, q {spec.get('q'):g}"


def _n(count: int, noun: str) -> str:
    """'1 row', '2 rows', '1,234 rows'."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def start_info(
    loaded: Any, prep: Any, method: str, model: Any, n_events: int
) -> RunInfo:
    rep = loaded.report
    info = RunInfo(
        source=rep.source,
        method=method,
        n_rows=rep.n_rows,
        format=rep.format,
        n_type_dropped=rep.n_type_dropped,
        type_counts=dict(rep.type_counts),
        n_invalid_dropped=rep.n_invalid_dropped,
        n_below_mc=n_events - prep.n_target,
        n_parent_only=len(prep.table) - prep.n_target,
        mc=prep.mc,
        mc_method=prep.mc_method,
        b=prep.b,
        b_method=prep.b_method,
        feature_spec=prep.spec.to_dict(),
    )
    # The catalog report's extra remarks (rollovers, duplicates, sorting, depths).
    skip = ("read ", "dropped ", "kept ")
    info.catalog_notes = [line for line in rep.lines() if not line.startswith(skip)]
    if prep.b_estimate is not None:
        info.b_sigma = float(prep.b_estimate.sigma)
        info.b_n = int(prep.b_estimate.n)
        if not _B_PLAUSIBLE[0] <= prep.b <= _B_PLAUSIBLE[1]:
            # Usually an Mc that is too low for part of the catalog (completeness that
            # changes with time or place), which also distorts the metric.
            info.notes.append(
                f"b = {prep.b:.2f} is outside the usual {_B_PLAUSIBLE[0]}-{_B_PLAUSIBLE[1]}: "
                "check Mc (completeness may vary in time or space; try --mc VALUE or --b VALUE)"
            )
    if model is not None:
        info.model_name = model.name
        td = model.entry.get("td_fraction")
        info.model_td_fraction = float(td) if td is not None else None
        info.model_sha256 = model.sha256
        info.model_path = str(model.path)
    return info


def note_spec_overrides(
    info: RunInfo, model: Any, df: float | None, hypocentral: bool | None
) -> None:
    """Warn when the metric differs from the one the forest was trained on."""
    from lite_decluster.feature_spec import get_spec

    trained = get_spec(model.spec_dict)
    if df is not None and float(df) != trained.df:
        info.notes.append(
            f"df {df:g} differs from the model's training value {trained.df:g}: "
            "probabilities may be biased"
        )
    if hypocentral is not None and bool(hypocentral) != trained.hypocentral:
        kind = "hypocentral" if hypocentral else "epicentral"
        info.notes.append(f"{kind} distance differs from the model's training setting")
