"""Shared fixtures (small synthetic zoos written as real ONNX model folders) and the
``slow`` marker: set on every test that starts a process or runs the CLI, and checked.

``make test-fast`` (``pytest -m "not slow"``) is the inner loop; ``make test`` and CI run
everything. A test is slow when it, a fixture it uses or a helper function of the test
modules that it calls refers to ``subprocess``, ``multiprocessing``, a click command or
``CliRunner``, ``modelcentrality.cli.main``, or a worker-pool backend (``ProcessBackend``,
``RayBackend``, ``ray``); such tests are marked at collection. Expensive tests without a
process (training, large rankings: over about a second of CPU) carry ``@pytest.mark.slow``
by hand, and so does every test that uses a fixture declared with
``tests._helpers.slow_fixture``. Whatever the
collection misses (``n_jobs=2`` hides a pool), the guard below catches: an unmarked test
that starts a process or runs a click command fails and says to mark it.
"""

from __future__ import annotations

import inspect
import multiprocessing.process
import shutil
import subprocess
import sys
import threading
import types
from pathlib import Path

import click
import pytest

from modelcentrality.testing._synthetic import make_synthetic_zoo


@pytest.fixture(scope="session")
def synthetic_zoo_master(tmp_path_factory) -> Path:
    """4 near-disentangled (entanglement 0.1) and 4 entangled (1.0) models, 4 factors."""
    path = tmp_path_factory.mktemp("zoo") / "synthetic"
    make_synthetic_zoo(path, random_state=0)
    return path


@pytest.fixture
def synthetic_zoo(synthetic_zoo_master, tmp_path) -> Path:
    """A private copy of the synthetic zoo that a test may damage."""
    path = tmp_path / "zoo"
    shutil.copytree(synthetic_zoo_master, path)
    return path


#: Packages whose names a local import may bring into a test.
_LOCAL_IMPORTS = ("modelcentrality", "tests", "click")
#: Names that start a process or run the CLI wherever they appear (also in local imports).
_SLOW_NAMES = frozenset(
    {"subprocess", "multiprocessing", "CliRunner", "ProcessBackend", "RayBackend", "ray"}
)


def _is_slow_object(value: object) -> bool:
    if isinstance(value, types.ModuleType):
        return value.__name__.split(".")[0] in {"subprocess", "multiprocessing", "ray"}
    if isinstance(value, click.Command):
        return True
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__qualname__", "")
    return (module, name) == ("modelcentrality.cli", "main") or name in _SLOW_NAMES


def _codes(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _uses_slow(function, seen: set) -> bool:
    """Whether ``function`` refers to a slow name, following test-module helpers."""
    function = inspect.unwrap(function)
    if getattr(function, "slow", False) is True:
        return True
    code = getattr(function, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    scope = getattr(function, "__globals__", {})
    for inner in _codes(code):
        # Local imports (``from modelcentrality.cli import main`` in a test) name a module.
        modules = [
            sys.modules[name]
            for name in inner.co_names
            if name in sys.modules and name.startswith(_LOCAL_IMPORTS)
        ]
        for name in inner.co_names:
            if name in _SLOW_NAMES:
                return True
            value = scope.get(name)
            for module in modules:
                value = getattr(module, name, None) if value is None else value
            if value is None:
                continue
            if _is_slow_object(value):
                return True
            if (
                inspect.isfunction(value)
                and value.__module__.startswith("tests")
                and _uses_slow(value, seen)
            ):
                return True
    return False


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.get_closest_marker("slow") is not None or not hasattr(item, "function"):
            continue
        seen: set = set()
        functions = [item.function] + [
            definition.func
            for definitions in item._fixtureinfo.name2fixturedefs.values()
            for definition in definitions
        ]
        if any(_uses_slow(function, seen) for function in functions):
            item.add_marker(pytest.mark.slow)


#: What the running test started: filled by the wrappers below, checked by the guard.
_started: list[str] = []


def _recording(what: str, original):
    def wrapper(*args, **kwargs):
        # A pool left running by an earlier test may restart a worker from its own thread.
        if threading.current_thread() is threading.main_thread():
            _started.append(what)
        return original(*args, **kwargs)

    return wrapper


subprocess.Popen._execute_child = _recording("a subprocess", subprocess.Popen._execute_child)
multiprocessing.process.BaseProcess.start = _recording(
    "a worker process", multiprocessing.process.BaseProcess.start
)
click.Command.main = _recording("a CLI command", click.Command.main)


@pytest.fixture(autouse=True)
def _slow_guard(request):
    """Fail an unmarked test that starts a process or runs the CLI."""
    _started.clear()
    yield
    if _started and request.node.get_closest_marker("slow") is None:
        what = _started[0]
        _started.clear()
        pytest.fail(
            f"{request.node.nodeid} runs {what} but is not marked slow: add "
            "@pytest.mark.slow (make test-fast leaves slow tests out)",
            pytrace=False,
        )
