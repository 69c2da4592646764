"""Packaging and house rules: lint, the runtime's import boundary, the installed package."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _installed() -> bool:
    try:
        importlib.metadata.distribution("lite-decluster")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff not installed (pip install '.[test]')")
    res = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_runtime_imports_neither_export_nor_sklearn(tmp_path):
    # A whole declustering run in a fresh interpreter, then look at what got imported.
    code = (
        "import sys, numpy as np, pandas as pd\n"
        "import lite_decluster\n"
        "from lite_decluster import compute_features\n"
        "from lite_decluster.features import feature_matrix\n"
        "import lite_decluster.model, lite_decluster.cli, lite_decluster.declustering\n"
        "rng = np.random.default_rng(0)\n"
        "cat = pd.DataFrame({'time': np.sort(rng.random(500) * 100), 'x': rng.random(500),\n"
        "                    'y': rng.random(500), 'magnitude': 2 + rng.random(500)})\n"
        "feature_matrix(compute_features(cat, b=1.0), 'v1')\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in ('sklearn', 'export', 'skl2onnx', 'onnx'))\n"
        "print(bad)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


@pytest.mark.skipif(not _installed(), reason="package not installed (pip install .)")
def test_installed_package_ships_models_and_cli(tmp_path):
    # Outside the source tree, the installed package (not the checkout) must find its models.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = (
        "import json, lite_decluster, lite_decluster.model as m\n"
        "assert 'site-packages' in lite_decluster.__file__, lite_decluster.__file__\n"
        "res = m.verify_models()\n"
        "print(json.dumps([[r['name'], bool(r['sha_ok']), bool(r['golden_ok'])] for r in res]))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout.strip().splitlines()[-1])
    assert len(rows) == 5 and all(ok and gold for _, ok, gold in rows), rows
    exe = Path(sys.executable).parent / "lite-decluster"
    res = subprocess.run(
        [str(exe), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0 and "run" in res.stdout


def test_every_runtime_package_is_installed():
    tomllib = pytest.importorskip("tomllib")

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    found = {".".join(p.relative_to(ROOT).parts[:-1]) for p in (ROOT / "lite_decluster")
             .rglob("__init__.py") if "__pycache__" not in p.parts}
    assert found <= listed, sorted(found - listed)


def _code_lines(path: Path) -> int:
    """Lines of a module after its docstring (a long description of a model is not a
    second job)."""
    text = path.read_text()
    body = ast.parse(text).body
    start = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        start = body[0].end_lineno
    return len(text.splitlines()) - start


@pytest.mark.parametrize("package", ["lite_decluster", "export"])
def test_no_module_over_about_400_lines(package):
    sizes = {str(p.relative_to(ROOT)): _code_lines(p) for p in (ROOT / package).rglob("*.py")}
    assert max(sizes.values()) <= 425, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
