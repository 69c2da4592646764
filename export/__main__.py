"""``python -m export <command> ...``: the export stage's commands.

Commands: ``simulate`` (one ETAS catalog as CSV), ``example`` (the bundled example
catalog), ``dataset`` (training/test catalogs and
features), ``train`` (grid, forests, baselines, evaluation), ``build`` (the whole chain to
``models_onnx/``), ``convert`` (a pickled forest to ONNX), ``ort-compat`` (check the shipped
models under several onnxruntime versions), ``report`` (docs/models.md and its figures) and
``evaluate`` (the evaluation suite, docs/evaluation.md).
Each module exposes ``cli(argv) -> int``; ``simulate`` gets argv with the command name
(its parser has a subcommand), the others the options only.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "simulate": ("export.etas", "simulate one ETAS catalog (CSV)"),
    "example": ("export.example", "write the bundled example catalog"),
    "dataset": ("export.dataset", "simulate and featurize the training and test catalogs"),
    "train": ("export.train", "hyperparameter grid, forests, baselines, test evaluation"),
    "build": ("export.build", "the whole chain: dataset to models_onnx/ (manifest, golden)"),
    "convert": ("export.convert", "convert a pickled forest to ONNX"),
    "ort-compat": ("export.ort_compat", "check the models under several onnxruntime versions"),
    "report": ("export.report", "write docs/models.md and its figures"),
    "evaluate": ("export.evaluate", "every method on every case (docs/evaluation.md)"),
}


def _usage() -> str:
    lines = ["usage: python -m export <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command = argv[0]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    # etas.cli parses the command itself (a subparser); the others take the options only
    return int(module.cli(argv if command == "simulate" else argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
