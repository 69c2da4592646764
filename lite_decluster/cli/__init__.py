"""The ``lite-decluster`` command: ``run`` (:mod:`.run`), ``models`` and ``plot``
(:mod:`.models_plot`); this module holds the application, the entry point and the error handling.

Exit codes: 0 success; 2 bad usage or bad input (unreadable catalog, model that fails its
checksum, refused output...: one message on stderr, no traceback); 1 internal error (the
traceback is shown only with ``LITE_DECLUSTER_DEBUG=1``); 130 interrupted (Ctrl-C); 143
terminated (SIGTERM). Interrupted or terminated runs remove their temporary files.

Only typer and the standard library are imported up front, so that ``--help`` is quick; the
work's modules (pandas, scipy, onnxruntime) are imported by the command that needs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, TypeVar

import typer

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


class DepthUnit(str, Enum):
    auto = "auto"
    km = "km"
    m = "m"


class DepthSign(str, Enum):
    auto = "auto"
    down = "down"
    up = "up"


class Keep(str, Enum):
    mainshocks = "mainshocks"
    background = "background"


class OutFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


T = TypeVar("T")


class _Usage(Exception):
    """A bad option value found after parsing (reported like any bad input, exit 2)."""


class Terminated(BaseException):
    """SIGTERM: raised like KeyboardInterrupt, so that temporary files are removed."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"lite-decluster: error: {message}", err=True)
    return typer.Exit(code)


def _guard(work: Callable[[], T]) -> T:
    """Run a command body: expected failures exit 2 with one line, anything else exits 1."""
    try:
        return work()
    except typer.Exit:
        raise
    except ValueError as exc:  # CatalogError, ModelError, DeclusterError, OutputError...
        from lite_decluster.catalog import CatalogError
        from lite_decluster.errors import DeclusterError
        from lite_decluster.job import UsageError
        from lite_decluster.model import ModelError
        from lite_decluster.output import OutputError
        from lite_decluster.plot import PlotError

        known = (CatalogError, ModelError, DeclusterError, OutputError, PlotError, UsageError)
        if isinstance(exc, known):
            raise _fail(str(exc), 2) from None
        raise _internal(exc) from None
    except _Usage as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:  # disk full, permission denied...: the environment, not a bug
        raise _fail(f"cannot write: {exc}", 2) from None
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    except Terminated:
        raise _fail("terminated", 143) from None
    except Exception as exc:  # an internal error: say so plainly, trace only on request
        raise _internal(exc) from None


def _internal(exc: BaseException) -> typer.Exit:
    if os.environ.get(DEBUG_ENV, "").strip() not in ("", "0"):
        traceback.print_exception(exc, file=sys.stderr)
    else:
        typer.echo(f"(set {DEBUG_ENV}=1 to see the traceback)", err=True)
    return _fail(f"internal error: {type(exc).__name__}: {exc}", 1)


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], object] | None]:
    """Progress bars on stderr when it is a terminal (and not --quiet), else None."""
    from lite_decluster import progress

    if quiet or not progress.stream_is_tty():
        yield None
        return
    bar = progress.RichProgress()
    try:
        yield bar
    finally:
        bar.close()


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


# Click's (typer's) own exception base classes, without importing a private module.
_UsageError = typer.BadParameter.__mro__[1]
_ClickException = typer.BadParameter.__mro__[2]


def _usage_message(exc: Exception) -> str:
    """Click's wording made plain: the option, what is wrong, what would be right."""
    name = type(exc).__name__
    if name == "NoSuchOption":
        opt, near = getattr(exc, "option_name", "?"), sorted(getattr(exc, "possibilities", ()))
        return f"unknown option {opt}" + (f"; did you mean {' or '.join(near)}?" if near else "")
    text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    text = re.sub(r"Value error, ", "", text)
    text = text.replace("Input should be a valid integer, unable to parse string as an integer",
                        "must be a whole number")
    text = text.replace("Input should be a valid number, unable to parse string as a number",
                        "must be a number")
    text = re.sub(r"Input should be (less|greater) than or equal to",
                  lambda m: "must be at " + ("most" if m.group(1) == "less" else "least"), text)
    text = re.sub(r"Input should be", "must be", text)
    text = re.sub(r"Invalid value for '([^']+)': ", r"\1: ", text)
    text = re.sub(r"Invalid value for '([^']+)' / '[^']+': ", r"\1: ", text)
    found = re.search(r"'([^']*)' is not one of (.*)\.$", text)
    if found:
        choices = re.findall(r"'([^']*)'", found.group(2))
        near = [c for c in choices if c.startswith(found.group(1).lower())]
        text = text[: found.start()] + f"{found.group(1)!r} is not one of {', '.join(choices)}"
        text += f" (did you mean {near[0]}?)" if near else ""
    return text[:1].lower() + text[1:]


def _quick_help(command: Any, args: list[str]) -> bool:
    """``lite-decluster CMD --help``: the command's help text straight from its parameters.
    Parsing the arguments would import typer's pydantic adapters (about 0.2 s) first."""
    if len(args) < 2 or args[0] not in getattr(command, "commands", {}) or \
            "--help" not in args[1:] or args[1] == "--":
        return False
    sub = command.commands[args[0]]
    parent = command.context_class(command, info_name="lite-decluster")
    with sub.context_class(sub, info_name=args[0], parent=parent) as ctx:
        typer.echo(sub.get_help(ctx))
    return True


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``lite-decluster``): exit codes as the module says."""
    signal.signal(signal.SIGTERM, _terminate)
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else argv
    if _quick_help(command, args):
        return
    try:
        code = command.main(args=args, prog_name="lite-decluster", standalone_mode=False)
    except _UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message(), err=True)
            sys.exit(2)
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path} --help" if ctx is not None else "lite-decluster --help"
        typer.echo(f"lite-decluster: error: {_usage_message(exc)} (see {where})", err=True)
        sys.exit(2)
    except _ClickException as exc:
        typer.echo(f"lite-decluster: error: {exc.format_message()}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    except (KeyboardInterrupt, Terminated) as exc:
        code = 130 if isinstance(exc, KeyboardInterrupt) else 143
        typer.echo("lite-decluster: error: " + ("interrupted" if code == 130 else "terminated"),
                   err=True)
        sys.exit(code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()


# The commands register themselves on ``app`` when imported.
from lite_decluster.cli import models_plot as _models_plot  # noqa: E402,F401
from lite_decluster.cli import run as _run  # noqa: E402,F401
