"""Known failures raise the project's one-line error types, never a bare ``ValueError``.

``ParameterError`` is a ``ValueError`` too, so callers that catch ``ValueError`` keep
working; a bare ``ValueError`` would escape the CLI's one-line handler as a traceback.
"""

import ast
import importlib.util
from pathlib import Path

import pytest

from modelcentrality.engine import get_protocol
from modelcentrality.errors import ModelCentralityError, ParameterError
from modelcentrality.metrics import check_metric_names

PACKAGES = ("modelcentrality", "modelcentrality.adapters", "modelcentrality.reference_models")


def _package_folder(name: str) -> Path:
    # find_spec reads the location without importing (the adapters would import torch).
    return Path(next(iter(importlib.util.find_spec(name).submodule_search_locations)))


def _source_files() -> dict[str, Path]:
    """Every module of the three packages, keyed by its path below ``modelcentrality``."""
    root = _package_folder("modelcentrality")
    files = {}
    for package in PACKAGES:
        folder = _package_folder(package)
        prefix = package.split(".", 1)[1].replace(".", "/") + "/" if "." in package else ""
        for path in folder.rglob("*.py"):
            files[prefix + path.relative_to(folder).as_posix()] = path
    assert files and root.is_dir()
    return files


def bare_value_errors(source: str) -> list[int]:
    """Line numbers of ``raise ValueError`` / ``raise ValueError(...)`` in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(target, ast.Name) and target.id == "ValueError":
                lines.append(node.lineno)
    return sorted(lines)


def test_the_scan_finds_bare_value_errors():
    source = (
        "def f(x):\n"
        "    if x:\n"
        "        raise ValueError('bad')\n"
        "    raise ValueError\n"
        "def g():\n"
        "    raise ParameterError('fine')\n"
    )
    assert bare_value_errors(source) == [3, 4]


def test_the_scan_covers_the_three_packages():
    files = _source_files()
    assert "errors.py" in files
    assert any(name.startswith("adapters/") for name in files)
    assert any(name.startswith("reference_models/") for name in files)


def test_no_bare_value_error_in_the_packages():
    found = {
        f"{name}:{line}"
        for name, path in _source_files().items()
        for line in bare_value_errors(path.read_text(encoding="utf-8"))
    }
    assert not found, (
        "raise ParameterError (a bad parameter; also a ValueError) or another "
        f"ModelCentralityError subclass instead of ValueError at {sorted(found)}"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_metric_names(["no such metric"]),
        lambda: get_protocol("no such protocol"),
    ],
    ids=["metric name", "protocol"],
)
def test_a_bad_parameter_is_a_one_line_parameter_error_and_a_value_error(call):
    with pytest.raises(ParameterError) as info:
        call()
    assert isinstance(info.value, ModelCentralityError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)
