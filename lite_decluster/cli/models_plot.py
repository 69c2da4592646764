"""``lite-decluster models`` (list and verify the shipped models) and ``lite-decluster plot``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer

from lite_decluster.cli import (
    _guard,
    app,
)

# ------------------------------------------------------------------------------------ models


def _number_text(value: Any) -> str | None:
    """'0.912' for a number; '0.912 [0.905-0.920]' for {'median', 'p32', 'p68'} summaries."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.3f}"
    if isinstance(value, dict) and isinstance(value.get("median"), (int, float)):
        text = f"{value['median']:.3f}"
        lo, hi = value.get("p32"), value.get("p68")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            text += f" [{lo:.3f}-{hi:.3f}]"
        return text
    return None


def _accuracy(entry: dict) -> str:
    """Test accuracy from the manifest's metrics (a number or a median/32-68 % summary)."""
    metrics = entry.get("metrics") or {}
    if not isinstance(metrics, dict):
        return "-"
    candidates = [metrics.get("test_accuracy"), metrics.get("accuracy")]
    test = metrics.get("test")
    if isinstance(test, dict):
        candidates.append(test.get("accuracy"))
    for value in candidates:
        text = _number_text(value)
        if text is not None:
            return text
    return "-"


def _size(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return "-"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


@app.command("models", short_help="List (and verify) the shipped models.")
def models(
    verify: Annotated[bool, typer.Option(
        "--verify", help="Re-hash every model file and check that it reproduces its stored "
        "golden probabilities exactly; exit 1 if any fails.")] = False,
    models_dir: Annotated[Path | None, typer.Option(
        "--models-dir", help="Folder with manifest.json (default: the shipped models).",
        show_default=False)] = None,
) -> None:
    """List the shipped models (TD fraction, size, trees, nodes, test accuracy, features).

    The default model, used when --model is not given, is marked with '*'.
    """

    def work() -> int:
        from lite_decluster.model import load_manifest, verify_models
        from lite_decluster.model import models_dir as resolve_dir

        where = resolve_dir(models_dir)
        manifest = load_manifest(where)
        rows = [["", "name", "TD %", "size", "trees", "nodes", "test acc.", "features"]]
        for e in manifest["models"]:
            spec = e.get("feature_spec") or {}
            rows.append([
                "*" if e["name"] == manifest.get("default") else "",
                e["name"],
                str(e.get("td_fraction", "-")),
                _size(e.get("bytes")),
                f"{e['n_trees']:,}" if isinstance(e.get("n_trees"), int) else "-",
                f"{e['n_nodes']:,}" if isinstance(e.get("n_nodes"), int) else "-",
                _accuracy(e),
                str(spec.get("name", "-")),
            ])
        typer.echo(f"models in {where}")
        for line in _table(rows):
            typer.echo(line)
        if any("[" in r[6] for r in rows[1:]):
            typer.echo("test acc.: median over the test catalogs [32-68 % band]")
        reason = manifest.get("default_reason")
        if reason:
            typer.echo(textwrap.fill(f"* default: {reason}", width=100,
                                     subsequent_indent="  "))
        if not verify:
            return 0
        failed = 0
        typer.echo("")
        for res in verify_models(where):
            ok = res["sha_ok"] and res["golden_ok"]
            failed += not ok
            status = "ok" if ok else "FAILED"
            detail = "sha256 and golden predictions match" if ok else res["error"]
            typer.echo(f"{status:<7} {res['name']}: {detail}")
        if failed:
            typer.echo(f"lite-decluster: {failed} model(s) failed verification", err=True)
            return 1
        return 0

    code = _guard(work)
    if code:
        raise typer.Exit(code)


# ------------------------------------------------------------------------------------ plot


@app.command("plot", no_args_is_help=True,
             short_help="Draw the summary figure of a labelled catalog.")
def plot_cmd(
    labelled: Annotated[Path, typer.Argument(
        help="Output of 'lite-decluster run' (CSV or parquet).", metavar="LABELLED",
        show_default=False)],
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Figure file (.png, .pdf or .svg).", show_default=False)],
    time_col: Annotated[str | None, typer.Option(
        "--time-col", help="Column holding the origin time (UTC), if not detected.")] = None,
    lat_col: Annotated[str | None, typer.Option(
        "--lat-col", help="Column holding latitude (degrees), if not detected.")] = None,
    lon_col: Annotated[str | None, typer.Option(
        "--lon-col", help="Column holding longitude (degrees), if not detected.")] = None,
    mag_col: Annotated[str | None, typer.Option(
        "--mag-col", help="Column holding magnitude, if not detected.")] = None,
    title: Annotated[str | None, typer.Option(help="Figure title.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing figure file.")] = False,
) -> None:
    """Draw the summary figure of a labelled catalog (needs lite-decluster[plot]).

    Panels: rescaled time T (days) vs rescaled distance R (km^df) coloured by p_aftershock;
    log10 eta by label; p_aftershock distribution; counts per time bin; cumulative numbers
    of all and of background events (UTC); map coloured by label.
    """

    def work() -> None:
        from lite_decluster.plot import plot_labelled_file

        columns = {
            k: v for k, v in dict(time=time_col, latitude=lat_col, longitude=lon_col,
                                  magnitude=mag_col).items() if v is not None
        }
        plot_labelled_file(labelled, output, columns=columns, title=title, force=force)
        typer.echo(f"wrote {output}", err=True)

    _guard(work)




