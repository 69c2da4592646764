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
    gardner_knopoff = "gardner-knopoff"
    reasenberg = "reasenberg"
    etas = "etas"


class Window(str, Enum):
    gardner_knopoff = "gardner-knopoff"
    gruenthal = "gruenthal"
    uhrhammer = "uhrhammer"


class Keep(str, Enum):
    mainshocks = "mainshocks"
    background = "background"


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


def _method_options(method: Method, **given: Any) -> dict[str, Any]:
    """The options of ``method`` that were given; an option of another method is an error."""
    owners = {
        "window": Method.gardner_knopoff, "fs_time_prop": Method.gardner_knopoff,
        "rfact": Method.reasenberg, "xmeff": Method.reasenberg, "xk": Method.reasenberg,
        "tau_min": Method.reasenberg, "tau_max": Method.reasenberg, "p": Method.reasenberg,
        "params_file": Method.etas,
    }
    flags = {"p": "--p1", "params_file": "--etas-params"}
    opts: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if owners[key] is not method:
            flag = flags.get(key, "--" + key.replace("_", "-"))
            raise _Usage(f"{flag} is for --method {owners[key].value}, not {method.value}")
        opts[key] = value.value if isinstance(value, Enum) else value
    return opts


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
        "log10 eta between its clustered and background modes (no model); gardner-knopoff "
        "and reasenberg: the classic window and link methods; etas: an ETAS model fitted to "
        "the catalog, stochastic declustering.")] = Method.forest,
    mc: Annotated[str, typer.Option(
        "--mc", metavar="auto|none|VALUE|PERIODS",
        help="Magnitude of completeness in magnitude units; auto = maximum curvature + 0.2; "
        "none keeps every event; periods such as 1932:4.0,1975:3.0,1981:2.5 (from each "
        "year or UTC date on), or a file of 'START MC' lines. Events below Mc are kept in "
        "the output, unlabelled.")] = "auto",
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
    declustered: Annotated[Path | None, typer.Option(
        "--declustered", metavar="FILE",
        help="Also write the declustered catalog: the input's own header and rows (byte for "
        "byte, input order) of the events kept (see --keep).", show_default=False)] = None,
    keep: Annotated[Keep, typer.Option(
        "--keep", help="Declustered catalog: mainshocks = one event per cluster, its "
        "largest (window-method and hazard convention); background = the events labelled "
        "background (each roots a cluster).")] = Keep.mainshocks,
    realizations: Annotated[int | None, typer.Option(
        "--realizations", min=1, metavar="N",
        help="Also write N declustered catalogs sampled event by event from p_aftershock "
        "(forest, etas) into one file with a leading 'realization' column.",
        show_default=False)] = None,
    seed: Annotated[int, typer.Option(
        "--seed", help="Random seed of the realisations.")] = 0,
    realizations_out: Annotated[Path | None, typer.Option(
        "--realizations-out", metavar="FILE",
        help="File of the realisations. Default: NAME.realizations.csv beside the output.",
        show_default=False)] = None,
    start_at: Annotated[str | None, typer.Option(
        "--start", metavar="TIME", help="Decluster only events from this UTC time on "
        "(1981, 1981-06-01, 1981-06-01T12:00; days for x/y catalogs).",
        show_default=False)] = None,
    end_at: Annotated[str | None, typer.Option(
        "--end", metavar="TIME", help="Decluster only events before this UTC time.",
        show_default=False)] = None,
    region: Annotated[str | None, typer.Option(
        "--region", metavar="LON_MIN,LON_MAX,LAT_MIN,LAT_MAX|POLYGON_FILE",
        help="Decluster only events inside this lon/lat box (degrees; LON_MIN > LON_MAX "
        "crosses the antimeridian) or polygon file ('lon lat' per line).",
        show_default=False)] = None,
    max_depth: Annotated[float | None, typer.Option(
        "--max-depth", min=0.0, metavar="KM", help="Decluster only events at most this "
        "deep (km).", show_default=False)] = None,
    window: Annotated[Window | None, typer.Option(
        "--window", help="gardner-knopoff: the space-time windows (Gardner & Knopoff 1974, "
        "Gruenthal, Uhrhammer 1986). Default gardner-knopoff.", show_default=False)] = None,
    fs_time_prop: Annotated[float | None, typer.Option(
        "--fs-time-prop", min=0.0, max=1.0, metavar="F",
        help="gardner-knopoff: foreshock window as a fraction of the aftershock window "
        "(default 0: none).", show_default=False)] = None,
    rfact: Annotated[float | None, typer.Option(
        "--rfact", help="reasenberg: crack radii in the interaction distance (default 10).",
        show_default=False)] = None,
    xmeff: Annotated[float | None, typer.Option(
        "--xmeff", help="reasenberg: effective lower magnitude cutoff (default 1.5).",
        show_default=False)] = None,
    xk: Annotated[float | None, typer.Option(
        "--xk", help="reasenberg: raise of xmeff during clusters (default 0.5).",
        show_default=False)] = None,
    tau_min: Annotated[float | None, typer.Option(
        "--tau-min", help="reasenberg: minimum look-ahead time, days (default 1).",
        show_default=False)] = None,
    tau_max: Annotated[float | None, typer.Option(
        "--tau-max", help="reasenberg: maximum look-ahead time, days (default 10).",
        show_default=False)] = None,
    p1: Annotated[float | None, typer.Option(
        "--p1", help="reasenberg: confidence of observing the next event (default 0.95).",
        show_default=False)] = None,
    etas_params: Annotated[Path | None, typer.Option(
        "--etas-params", metavar="FILE.json",
        help="etas: starting values (or, with a 'fixed' list, fixed values) of the parameters, "
        "e.g. a file written by --etas-out.", show_default=False)] = None,
    etas_out: Annotated[Path | None, typer.Option(
        "--etas-out", metavar="FILE.json",
        help="etas: write the fitted parameters, standard errors and fit report.",
        show_default=False)] = None,
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
        from lite_decluster.assemble import assemble, labelled_blocks
        from lite_decluster.declustered import catalog_suffix, write_products
        from lite_decluster.declustering import label_catalog
        from lite_decluster.output import (
            check_output_path,
            default_output_path,
            output_format,
            require_writer,
            write_csv_blocks,
            write_table,
        )
        from lite_decluster.progress import ProgressPrinter, stream_is_tty
        from lite_decluster.selection import make_selection

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
        method_options = _method_options(
            method, window=window, fs_time_prop=fs_time_prop, rfact=rfact, xmeff=xmeff, xk=xk,
            tau_min=tau_min, tau_max=tau_max, p=p1, params_file=etas_params,
        )
        if etas_out is not None and method is not Method.etas:
            raise _Usage("--etas-out is for --method etas")
        if model is not None and method is not Method.forest:
            raise _Usage(f"--model is for --method forest, not {method.value}")
        if realizations is not None and method not in (Method.forest, Method.etas):
            raise _Usage(f"--realizations needs probabilities: --method forest or etas, "
                         f"not {method.value}")
        real_out = None
        if realizations is not None:
            real_out = realizations_out or out.with_name(
                out.name.removesuffix(out.suffix).removesuffix(".declustered")
                + ".realizations" + catalog_suffix(catalog))
        products = [p for p in (declustered, real_out, etas_out) if p is not None]
        for extra in products:
            check_output_path(extra, inputs=[catalog, out], force=force)
        if len({os.path.abspath(p) for p in [out, *products, *([plot] if plot else [])]}) != \
                1 + len(products) + (plot is not None):
            raise _Usage("the output, --plot, --declustered, --realizations-out and "
                         "--etas-out files must differ")
        selection = make_selection(start_at, end_at, region, max_depth)
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
                selection=selection,
                method_options=method_options,
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
                write_table(assemble(done.raw, done.labels, info), out, format=fmt, force=force,
                            inputs=[catalog])
            written = write_products(
                catalog, done.labels, declustered=declustered, keep=keep.value,
                realizations=realizations, seed=seed, realizations_out=real_out,
                etas_out=etas_out, info=info, force=force, inputs=[out],
                raw=done.raw,
            )
            info.timings["write"] = time.perf_counter() - start
            if plot is not None:
                from lite_decluster.plot import plot_declustered

                if printer is not None:
                    printer("plot", 0, 0)
                start = time.perf_counter()
                plot_declustered(done.labels, plot, events=events,
                                 nnd_threshold=info.nnd_threshold, threshold=info.threshold,
                                 title=catalog.name, force=force, inputs=[catalog, out])
                info.timings["plot"] = time.perf_counter() - start
        finally:
            if printer is not None:
                printer.close()
        if not quiet:
            _echo_lines(info.lines())
            typer.echo(f"wrote       {out}" + (f" and {plot}" if plot else ""), err=True)
            for line in written:
                typer.echo(f"wrote       {line}", err=True)

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
