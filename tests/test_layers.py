"""The layers and seams of docs/architecture.md, where import-linter cannot check them.

Every module's imports are read from its source (an AST walk, so the imports inside
functions count too) in ``modelcentrality/``, ``adapters/`` and ``reference_models/``.
The last two install into the namespace as ``modelcentrality.adapters`` and
``modelcentrality.reference_models`` from folders that import-linter's graph does not
see. The rules:

1. **Public seams.** A module imports another subpackage only through its public names:
   never a private module of it (``modelcentrality.io._zoo``) or a private name
   (``_checked_prior``); a name imported from a subpackage itself is in its ``__all__``.
   The package's own private top-level modules (``_validation``, ``_seeding``,
   ``_progress``, ``_version``, ``_zoo_format``) serve all of it, and no module imports
   the package root (which imports the subpackages).
2. **Layers.** The layers are those of ``.importlinter`` (``make lint``), with two more:
   ``adapters`` between ``contract`` and ``engine | io`` (adapters implement the contract;
   ``io`` loads zoos through them), and ``reference_models`` between ``testing | report |
   baselines | metrics`` and ``cli`` (the trainers score their zoos with ``metrics``;
   ``cli`` runs them). Nothing in ``adapters`` or ``reference_models`` imports a higher
   layer, and nothing in a lower layer imports them. So the adapters use the model
   contract, the errors and the private top-level modules, never ``io``.
"""

from __future__ import annotations

import ast
import configparser
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "modelcentrality"
#: Folders installed into the namespace from outside modelcentrality/.
NAMESPACE_FOLDERS = ("adapters", "reference_models")
#: Where each of them sits: just below the layer that holds this package.
PLACED_BELOW = {"adapters": "engine", "reference_models": "cli"}


def layers() -> list[set[str]]:
    """Top-level names of modelcentrality by layer, lowest first (``.importlinter`` lists
    them highest first), with adapters and reference_models in their places."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    text = config["importlinter:contract:layers"]["layers"]
    found = [{name.strip() for name in line.split("|")} for line in text.split("\n") if line]
    found.reverse()
    for folder, above in PLACED_BELOW.items():
        index = next(i for i, layer in enumerate(found) if above in layer)
        found.insert(index, {folder})
    return found


def module_name(path: Path) -> tuple[list[str], bool]:
    """(dotted name as a list, whether it is a package) of a source file."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] in NAMESPACE_FOLDERS:
        parts.insert(0, PACKAGE)
    if parts[-1] == "__init__":
        return parts[:-1], True
    return parts, False


def location(parts: list[str]) -> Path:
    """The file or folder of ``modelcentrality.<parts>``, without its suffix."""
    if parts[1:2] and parts[1] in NAMESPACE_FOLDERS:
        return ROOT.joinpath(*parts[1:])
    return ROOT.joinpath(*parts)


def is_package(parts: list[str]) -> bool:
    return (location(parts) / "__init__.py").is_file()


def is_module(parts: list[str]) -> bool:
    """Whether ``modelcentrality.<parts>`` is a module or package of this tree."""
    return location(parts).with_suffix(".py").is_file() or is_package(parts)


def type_checking_lines(tree: ast.AST) -> set[int]:
    """Lines under ``if TYPE_CHECKING:``: imports for annotations that never run."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, child.end_lineno + 1))
    return lines


def imports(parts: list[str], package: bool, source: str):
    """(line, imported module as a list, names imported from it, whether it runs) for
    every import; ``from X import sub`` of a submodule counts as importing ``X.sub``."""
    tree = ast.parse(source)
    typing_only = type_checking_lines(tree)
    for node in ast.walk(tree):
        runs = getattr(node, "lineno", None) not in typing_only
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split("."), [], runs
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if package else parts[:-1]
                base = base[: len(base) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            else:
                target = node.module.split(".")
            if target[0] != PACKAGE:
                continue
            names = []
            for alias in node.names:
                if is_module(target + [alias.name]):
                    yield node.lineno, target + [alias.name], [], runs
                else:
                    names.append(alias.name)
            if names:
                yield node.lineno, target, names, runs


def public_names(parts: list[str]) -> set[str]:
    return set(getattr(importlib.import_module(".".join(parts)), "__all__", ()))


def problems(parts: list[str], package: bool, source: str, order: list[set[str]]) -> list[str]:
    """What is wrong with the imports of the module ``parts``, one line each."""
    layer_of = {name: index for index, layer in enumerate(order) for name in layer}
    own = parts[1] if len(parts) > 1 else None
    found = []
    for line, target, names, _ in imports(parts, package, source):
        if target[0] != PACKAGE:
            continue
        where = f"{'.'.join(parts)}:{line}"
        if len(target) == 1:
            found.append(f"{where} imports {names} from the package root")
            continue
        other = target[1]
        if other == own:
            continue
        private = [part for part in target[2:] if part.startswith("_")]
        if private:
            found.append(f"{where} imports the private module {'.'.join(target)}")
        hidden = [name for name in names if name.startswith("_") and not name.endswith("__")]
        if hidden:
            found.append(f"{where} imports private names {hidden} of {'.'.join(target)}")
        if names and len(target) == 2 and is_package(target):
            missing = sorted(set(names) - public_names(target))
            if missing:
                found.append(f"{where} imports {missing}, not in {'.'.join(target)}.__all__")
        outside = {own, other} & set(PLACED_BELOW)
        if outside and own in layer_of and other in layer_of and layer_of[other] > layer_of[own]:
            found.append(f"{where} imports {'.'.join(target)}, a higher layer")
    return found


def source_files() -> list[Path]:
    folders = (PACKAGE, *NAMESPACE_FOLDERS)
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_subpackages_import_each_other_through_public_names_and_keep_their_layers():
    order = layers()
    found = []
    for path in source_files():
        parts, package = module_name(path)
        found += problems(parts, package, path.read_text(encoding="utf-8"), order)
    assert not found, "\n".join(found)


def module_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports when it runs (imports inside functions too)."""
    graph = {}
    for path in source_files():
        parts, package = module_name(path)
        name = ".".join(parts)
        graph[name] = set()
        for _, target, _, runs in imports(parts, package, path.read_text(encoding="utf-8")):
            while target[0] == PACKAGE and runs and not is_module(target):
                target = target[:-1]
            if target[0] == PACKAGE and runs and ".".join(target) != name:
                graph[name].add(".".join(target))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = set()
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                found.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_cycles():
    assert cycles(module_graph()) == []


def test_cycles_are_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [{"a", "b", "c"}]
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ._result import R\n"
    assert [runs for *_, runs in imports([PACKAGE, "selection", "_rank"], False, source)] == [False]


def test_every_subpackage_has_a_layer():
    placed = set().union(*layers())
    tops = {path.stem for path in (ROOT / PACKAGE).glob("*.py")} - {"__init__"}
    tops |= {path.name for path in (ROOT / PACKAGE).iterdir() if (path / "__init__.py").exists()}
    assert tops | set(NAMESPACE_FOLDERS) <= placed


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("cli.rank", "from ..io._zoo import METADATA_FILE", "private module"),
        ("cli.rank", "import modelcentrality.engine._votes", "private module"),
        ("selection._rank", "from ..contract import _checked_prior", "private names"),
        ("selection._rank", "from ..engine import not_exported", "not in modelcentrality.engine"),
        ("engine._votes", "from .. import __version__", "from the package root"),
        ("adapters.pytorch", "from ..io import METADATA_FILE", "a higher layer"),
        ("adapters.pytorch", "def f():\n    from ..metrics import evaluate", "a higher layer"),
        ("contract._model", "from ..adapters.pytorch import TorchModel", "a higher layer"),
        ("reference_models.train", "from ..cli import cli", "a higher layer"),
        ("metrics._zoo", "from ..reference_models import train", "a higher layer"),
    ],
)
def test_the_rules_catch(module, source, expected):
    found = problems([PACKAGE, *module.split(".")], False, source, layers())
    assert any(expected in problem for problem in found), found


def test_the_rules_allow_the_seams():
    allowed = [  # (module, its imports)
        ("io._zoo", "from ..adapters.onnx_runtime import OnnxModel"),
        (
            "adapters.pytorch",
            "from .._zoo_format import METADATA_FILE\nfrom ..contract import Model",
        ),
        ("selection._rank", "from . import _search\nfrom ._result import RankResult"),
        ("cli.train", "from ..reference_models.zoo_job import train_zoo"),
        ("reference_models.zoo_job", "from ..metrics import evaluate"),
        ("metrics._zoo", "from .._validation import check_int\nfrom ..io import write_json"),
    ]
    order = layers()
    for module, source in allowed:
        assert problems([PACKAGE, *module.split(".")], False, source, order) == [], module
