"""``lite-decluster run``: options in, a :class:`lite_decluster.job.RunRequest` to the job."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from lite_decluster.cli import (
    DepthSign,
    DepthUnit,
    Keep,
    Method,
    OutFormat,
    Window,
    _auto_or_float,
    _echo_lines,
    _guard,
    _model_selector,
    _progress,
    _Usage,
    app,
)


def _method_options(method: Method, **given: Any) -> dict[str, Any]:
    """The options of ``method`` that were given; an option of another method is an error."""
    owners = {
        "window": Method.gardner_knopoff, "fs_time_prop": Method.gardner_knopoff,
        "rfact": Method.reasenberg, "xmeff": Method.reasenberg, "xk": Method.reasenberg,
        "tau_min": Method.reasenberg, "tau_max": Method.reasenberg, "p": Method.reasenberg,
        "params_file": Method.etas, "target_start": Method.etas,
    }
    flags = {"p": "--p1", "params_file": "--etas-params", "target_start": "--etas-target-start"}
    opts: dict[str, Any] = {}
    for key, value in given.items():
        if value is None:
            continue
        if owners[key] is not method:
            flag = flags.get(key, "--" + key.replace("_", "-"))
            raise _Usage(f"{flag} is for --method {owners[key].value}, not {method.value}")
        opts[key] = value.value if isinstance(value, Enum) else value
    return opts


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
        "e.g. a file written by --etas-out; \"fixed\": \"all\" reuses a fit as it is.",
        show_default=False)] = None,
    etas_target_start: Annotated[str | None, typer.Option(
        "--etas-target-start", metavar="TIME",
        help="etas: start of the target window (UTC; days for x/y catalogs); earlier events "
        "act as parents only (an auxiliary window), as ETAS studies do. Default: the whole "
        "catalog is the target. The region of the fit is --region when given, else the "
        "convex hull of the epicentres.", show_default=False)] = None,
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
    depth_unit: Annotated[DepthUnit, typer.Option(
        "--depth-unit", help="Unit of the depth column; auto reads metres when the column is "
        "named so (depth_m) or its median is above 1000 (noted in the summary).")
    ] = DepthUnit.auto,
    depth_positive: Annotated[DepthSign, typer.Option(
        "--depth-positive", help="Sign of depths: down (usual), up (elevation-style, "
        "flipped); auto flips depths that are mostly negative (noted).")] = DepthSign.auto,
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
        from lite_decluster.job import RunRequest, run_job

        columns = {
            k: v for k, v in dict(
                time=time_col, latitude=lat_col, longitude=lon_col, depth=depth_col,
                magnitude=mag_col, event_id=id_col, event_type=type_col,
            ).items() if v is not None
        }
        req = RunRequest(
            catalog=catalog, output=output,
            out_format=out_format.value if out_format is not None else None,
            model=_model_selector(model), method=method.value, mc=mc,
            b=_auto_or_float(b, "--b"), df=df, hypocentral=hypocentral, threshold=threshold,
            plot=plot, declustered=declustered, keep=keep.value, realizations=realizations,
            seed=seed, realizations_out=realizations_out, etas_out=etas_out, start=start_at,
            end=end_at, region=region, max_depth=max_depth,
            method_options=_method_options(
                method, window=window, fs_time_prop=fs_time_prop, rfact=rfact, xmeff=xmeff,
                xk=xk, tau_min=tau_min, tau_max=tau_max, p=p1, params_file=etas_params,
                target_start=etas_target_start),
            columns=columns, all_types=all_types, skip_invalid=skip_invalid, threads=threads,
            models_dir=models_dir, force=force, depth_unit=depth_unit.value,
            depth_positive=depth_positive.value,
        )
        with _progress(quiet) as progress:
            result = run_job(req, progress)
        if not quiet:
            _echo_lines(result.summary)
            for line in result.written:
                typer.echo(f"wrote       {line}", err=True)
        if result.plot_error is not None:
            raise _Usage(f"the figure could not be drawn ({result.plot_error}); the outputs "
                         "above are complete")

    _guard(work)

