"""The ``lite-decluster`` command: ``run``, ``models`` and ``plot``.

Exit codes: 0 success; 2 bad usage or bad input (unreadable catalog, model that fails its
checksum, refused output...: one message on stderr, no traceback); 1 internal error (the
traceback is shown only with ``LITE_DECLUSTER_DEBUG=1``).
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
import traceback
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from lite_decluster.catalog import CatalogError
from lite_decluster.model import ModelError

__all__ = ["app", "main"]

DEBUG_ENV = "LITE_DECLUSTER_DEBUG"

app = typer.Typer(
    name="lite-decluster",
    help=(
        "Decluster earthquake catalogs with a Random Forest (Aden-Antoniow, Frank & Seydoux "
        "2021) on nearest-neighbour features in the Zaliapin & Ben-Zion metric.\n\n"
        "Exit codes: 0 success, 2 bad usage or input, 1 internal error "
        f"({DEBUG_ENV}=1 shows tracebacks)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class Method(str, Enum):
    forest = "forest"
    nnd_threshold = "nnd-threshold"


class OutFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


T = TypeVar("T")


class _Usage(Exception):
    """A bad option value found after parsing (reported like any bad input, exit 2)."""


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"lite-decluster: error: {message}", err=True)
    return typer.Exit(code)


def _guard(work: Callable[[], T]) -> T:
    """Run a command body: expected failures exit 2 with one line, anything else exits 1."""
    from lite_decluster.declustering import DeclusterError
    from lite_decluster.output import OutputError
    from lite_decluster.plot import PlotError

    try:
        return work()
    except (CatalogError, ModelError, DeclusterError, OutputError, PlotError, _Usage) as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:  # disk full, permission denied...: the environment, not a bug
        raise _fail(f"cannot write: {exc}", 2) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except typer.Exit:
        raise
    except Exception as exc:  # an internal error: say so plainly, trace only on request
        if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
            traceback.print_exc(file=sys.stderr)
        else:
            typer.echo(f"(set {DEBUG_ENV}=1 to see the traceback)", err=True)
        raise _fail(f"internal error: {type(exc).__name__}: {exc}", 1) from None


def _auto_or_float(text: str | None, what: str, *, none_ok: bool = False) -> Any:
    if text is None:
        return "auto"
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    if none_ok and t == "none":
        return None
    try:
        return float(t)
    except ValueError:
        allowed = "'auto', 'none' or a number" if none_ok else "'auto' or a number"
        raise _Usage(f"{what} must be {allowed}, not {text!r}") from None


def _model_selector(text: str | None) -> Any:
    if text is None:
        return None
    t = text.strip()
    return int(t) if t.isdigit() else t


def _echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line, err=True)


# ------------------------------------------------------------------------------------ run


@app.command("run", no_args_is_help=True,
             short_help="Label every event as background or aftershock.")
def run(
    catalog: Annotated[Path, typer.Argument(
        help="Catalog file: ComCat CSV, SCSN CSV, INGV text, generic delimited text, or "
        "projected x/y (km) with time in days; .gz/.xz/.bz2 read directly. Times are UTC.",
        metavar="CATALOG", show_default=False)],
    model: Annotated[str | None, typer.Option(
        "--model", "-m", metavar="10|25|50|75|100|PATH.onnx",
        help="Shipped model by TD fraction (or its name, e.g. rf_td025), or an .onnx file "
        "listed in a manifest.json beside it. Default: the manifest's default model.")] = None,
    method: Annotated[Method, typer.Option(
        help="forest: Random Forest probabilities; nnd-threshold: the classic split of "
        "log10 eta between its clustered and background modes (2-component mixture; "
        "density minimum between the modes). No model.")] = Method.forest,
    mc: Annotated[str, typer.Option(
        "--mc", metavar="auto|none|VALUE",
        help="Magnitude of completeness in magnitude units; auto = maximum curvature + 0.2; "
        "none keeps every event. Events below Mc are kept in the output, unlabelled.")] = "auto",
    b: Annotated[str, typer.Option(
        "--b", metavar="auto|VALUE",
        help="Gutenberg-Richter b-value used in the metric (dimensionless); auto = Aki-Utsu "
        "maximum likelihood above Mc.")] = "auto",
    df: Annotated[float | None, typer.Option(
        "--df", metavar="DF",
        help="Fractal dimension of epicentres (dimensionless) in eta = T * r^df * 10^(-b m). "
        "Default: the model's (1.6); the forest was trained with it.", show_default=False,
    )] = None,
    hypocentral: Annotated[bool | None, typer.Option(
        "--hypocentral/--epicentral",
        help="Hypocentral (3-D, depth in km) or epicentral distance. Default: the model's.",
        show_default=False)] = None,
    threshold: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="An event is an aftershock when p_aftershock > THRESHOLD (forest only).")] = 0.5,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o",
        help="Output file. Default: NAME.declustered.csv (or .parquet) beside the input.",
        show_default=False)] = None,
    out_format: Annotated[OutFormat | None, typer.Option(
        "--format", help="Output format; default from the output suffix, else csv. "
        "parquet needs pyarrow.", show_default=False)] = None,
    plot: Annotated[Path | None, typer.Option(
        "--plot", metavar="FILE.png",
        help="Also draw the summary figure (needs lite-decluster[plot]).")] = None,
    time_col: Annotated[str | None, typer.Option(
        "--time-col", help="Column holding the origin time (UTC).")] = None,
    lat_col: Annotated[str | None, typer.Option(
        "--lat-col", help="Column holding latitude (degrees).")] = None,
    lon_col: Annotated[str | None, typer.Option(
        "--lon-col", help="Column holding longitude (degrees).")] = None,
    depth_col: Annotated[str | None, typer.Option(
        "--depth-col", help="Column holding depth (km).")] = None,
    mag_col: Annotated[str | None, typer.Option(
        "--mag-col", help="Column holding magnitude.")] = None,
    id_col: Annotated[str | None, typer.Option(
        "--id-col", help="Column holding the event id.")] = None,
    type_col: Annotated[str | None, typer.Option(
        "--type-col", help="Column holding the event type (earthquake, quarry blast...).")] = None,
    all_types: Annotated[bool, typer.Option(
        "--all-types", help="Keep every event type; by default only earthquake/eq rows are "
        "declustered (the others are kept in the output, unlabelled).")] = False,
    skip_invalid: Annotated[bool, typer.Option(
        "--skip-invalid", help="Leave invalid rows unlabelled (reason in the output) instead "
        "of stopping at the first one.")] = False,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, help="Threads for the neighbour search and the model "
        "(default: all cores).", show_default=False)] = None,
    models_dir: Annotated[Path | None, typer.Option(
        "--models-dir", help="Folder with manifest.json to take models from "
        "(default: the shipped models).", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No summary and no progress on stderr.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing output file (never the input).")] = False,
) -> None:
    """Label every event of CATALOG as background or aftershock and write the result.

    The output has every input row in input order: the input's columns plus p_aftershock,
    label, parent_row, parent_id, eta, T (days), R (km^df), dm, n_siblings, n_offspring and
    reason (why a row has no label: not an earthquake, invalid, below Mc, first event).
    A summary (counts, Mc, b, model, timings) goes to stderr.
    """

    def work() -> None:
        from lite_decluster.declustering import _assemble, label_catalog, labelled_blocks
        from lite_decluster.output import (
            check_output_path,
            default_output_path,
            output_format,
            require_writer,
            write_csv_blocks,
            write_table,
        )
        from lite_decluster.progress import ProgressPrinter, stream_is_tty

        fmt = output_format(
            output if output is not None else catalog,
            out_format.value if out_format is not None else None,
        )
        out = output if output is not None else default_output_path(catalog, fmt)
        # Refuse a bad destination before the (possibly long) run, and again when writing.
        check_output_path(out, inputs=[catalog], force=force)
        require_writer(fmt)
        if plot is not None:
            from lite_decluster.plot import check_plot_path

            check_output_path(plot, inputs=[catalog, out], force=force)
            check_plot_path(plot)
        columns = {
            k: v for k, v in dict(
                time=time_col, latitude=lat_col, longitude=lon_col, depth=depth_col,
                magnitude=mag_col, event_id=id_col, event_type=type_col,
            ).items() if v is not None
        }
        printer = ProgressPrinter() if not quiet and stream_is_tty() else None
        # CSV is written block by block from the input file read again, so the input's
        # own columns never sit in memory whole; parquet needs the whole table.
        streamed = fmt == "csv"
        try:
            done = label_catalog(
                catalog,
                _model_selector(model),
                method=method.value,
                mc=_auto_or_float(mc, "--mc", none_ok=True),
                b=_auto_or_float(b, "--b"),
                df=df,
                hypocentral=hypocentral,
                threshold=threshold,
                threads=threads,
                skip_invalid=skip_invalid,
                event_types=None if all_types else ("earthquake", "eq"),
                columns=columns,
                progress=printer,
                models_directory=models_dir,
                keep_raw=not streamed,
                keep_events=plot is not None,  # only the figure needs every validated event
            )
            info = done.info
            events, done.events = done.events, None
            if printer is not None:
                printer("write", 0, 0)
            start = time.perf_counter()
            if streamed:
                write_csv_blocks(labelled_blocks(catalog, done.labels, info), out, force=force,
                                 inputs=[catalog])
            else:
                assert done.raw is not None
                write_table(_assemble(done.raw, done.labels, info), out, format=fmt, force=force,
                            inputs=[catalog])
            info.timings["write"] = time.perf_counter() - start
            if plot is not None:
                from lite_decluster.plot import plot_declustered

                if printer is not None:
                    printer("plot", 0, 0)
                start = time.perf_counter()
                plot_declustered(done.labels.frame(), plot, events=events,
                                 nnd_threshold=info.nnd_threshold, threshold=info.threshold,
                                 title=catalog.name, force=force, inputs=[catalog, out])
                info.timings["plot"] = time.perf_counter() - start
        finally:
            if printer is not None:
                printer.close()
        if not quiet:
            _echo_lines(info.lines())
            typer.echo(f"wrote       {out}" + (f" and {plot}" if plot else ""), err=True)

    _guard(work)


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


def main() -> None:
    """Console entry point (``lite-decluster``)."""
    app(prog_name="lite-decluster")


if __name__ == "__main__":
    main()
