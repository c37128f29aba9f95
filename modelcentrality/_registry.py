"""Named extension points: similarities, searches, backends and model adapters.

A :class:`Registry` maps names to objects from three sources:

- **built-ins**, written as ``"module:qualname"`` strings and imported on first use (so
  the registry's module does not import its entries, and no entry imports what it
  does not need, e.g. torch);
- **entry points** of installed distributions, in the group ``modelcentrality.<group>``
  (``[project.entry-points."modelcentrality.similarities"]`` in a plugin's
  ``pyproject.toml``), also imported on first use;
- **user registrations** from this process (``register_similarity(...)`` and the like,
  also usable as decorators).

Worker processes (the process backend, Ray) do not share this process's registrations.
A backend therefore sends the entries a job needs as ``"module:qualname"`` references
(:meth:`Registry.reference`, checked here so that an object that cannot travel is a
one-line :class:`~modelcentrality.errors.ParameterError` before any worker starts), and
the worker imports them (:func:`load_plugins`) before it runs a task.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import sys
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from .errors import ParameterError

#: What a job carries to its workers: (kind, name, "module:qualname") per entry.
Plugins = tuple[tuple[str, str, str], ...]

#: Every registry, by kind, so that a worker can file what it receives.
_REGISTRIES: dict[str, Registry] = {}
#: References this process has imported already (a worker runs many tasks).
_loaded_plugins: set[tuple[str, str, str]] = set()

_HINT = (
    "define it at the top level of an importable module (or run in this process: "
    "n_jobs=1 on the local backend)"
)


def resolve(reference: str) -> Any:
    """The object a ``"module:qualname"`` string names (importing the module)."""
    module, _, qualname = reference.partition(":")
    target: Any = importlib.import_module(module)
    for part in filter(None, qualname.split(".")):
        target = getattr(target, part)
    return target


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _registering_module() -> str | None:
    """The module of the innermost caller outside this package: where a registration was
    written (the package registers its own entries as strings, never by call)."""
    frame = inspect.currentframe()
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != "modelcentrality" and not module.startswith("modelcentrality."):
            return module
        frame = frame.f_back
    return None


class Registry(MutableMapping[str, Any]):
    """Names to objects: built-ins, entry points, then this process's registrations.

    Reading a name imports its entry; listing names (``sorted(registry)``, ``in``)
    imports nothing. Assigning ``registry[name] = obj`` registers ``obj``.

    Parameters
    ----------
    kind : str
        What an entry is, for messages (``"similarity must be one of [...]"``).
    group : str
        Entry-point group suffix: entries come from ``modelcentrality.<group>``.
    builtins : dict of str to str
        Name to ``"module:qualname"`` of the package's own entries.
    default_name : callable, optional
        The name an object is registered under when none is given (e.g. its ``name``
        attribute); None: a name is required.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: dict[str, str],
        default_name: Callable[[Any], Any] | None = None,
    ) -> None:
        self.kind = kind
        self.group = f"modelcentrality.{group}"
        self._builtins = dict(builtins)
        self._default_name = default_name
        self._entry_point_cache: dict[str, str] | None = None
        self._imported: dict[str, Any] = {}
        # name -> (object, module that registered it: where an instance lives).
        self._user: dict[str, tuple[Any, str | None]] = {}
        _REGISTRIES[kind] = self

    def _entry_points(self, refresh: bool = False) -> dict[str, str]:
        """Entry-point names to references; built-in names cannot be taken over."""
        if refresh or self._entry_point_cache is None:
            found: dict[str, str] = {}
            for entry in importlib.metadata.entry_points(group=self.group):
                if entry.name not in self._builtins:
                    found.setdefault(entry.name, entry.value)
            self._entry_point_cache = found
        return self._entry_point_cache

    def _lazy_reference(self, name: str) -> str | None:
        reference = self._builtins.get(name) or self._entry_points().get(name)
        # A plugin installed (or put on sys.path) after the first look.
        return reference or self._entry_points(refresh=True).get(name)

    def __getitem__(self, name: str) -> Any:
        if name in self._user:
            return self._user[name][0]
        if name in self._imported:
            return self._imported[name]
        reference = self._lazy_reference(name)
        if reference is None:
            raise KeyError(name)
        try:
            entry = resolve(reference)
        except Exception as exc:  # a plugin's import can fail in any way
            raise ParameterError(
                f"{self.kind} {name!r} cannot be loaded from {reference}: {_last_line(exc)}"
            ) from None
        self._imported[name] = entry
        return entry

    def __setitem__(self, name: str, entry: Any) -> None:
        self.register(entry, name=name)

    def __delitem__(self, name: str) -> None:
        """Remove a registration of this process (built-ins and entry points stay)."""
        del self._user[name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._user or self._lazy_reference(name) is not None
        )

    def __iter__(self) -> Iterator[str]:
        names = set(self._builtins) | set(self._entry_points(refresh=True)) | set(self._user)
        return iter(sorted(names))

    def __len__(self) -> int:
        return len(list(iter(self)))

    def lookup(self, name: str) -> Any:
        """The entry called ``name``, or a one-line ParameterError listing the known ones."""
        try:
            return self[name]
        except KeyError:
            raise ParameterError(
                f"{self.kind} must be one of {sorted(self)}, got {name!r}"
            ) from None

    def register(self, entry: Any = None, *, name: str | None = None) -> Any:
        """Register ``entry`` (returned unchanged); without ``entry``, a decorator.

        Forms: ``register(obj)``, ``register(obj, name="x")``, ``@register``,
        ``@register(name="x")`` and ``@register("x")``.

        Raises
        ------
        ParameterError
            For a missing or built-in name.
        """
        if isinstance(entry, str):
            entry, name = None, entry
        if entry is None:
            return lambda decorated: self._add(decorated, name, _registering_module())
        return self._add(entry, name, _registering_module())

    def _add(self, entry: Any, name: str | None, module: str | None) -> Any:
        if name is None and self._default_name is not None:
            name = self._default_name(entry)
        if not isinstance(name, str) or not name:
            raise ParameterError(f"a {self.kind} needs a name (a non-empty str), got {name!r}")
        if name in self._builtins:
            raise ParameterError(
                f"{self.kind} {name!r} is built in; register yours under another name"
            )
        self._user[name] = (entry, module)
        return entry

    def name_of(self, entry: Any) -> str | None:
        """The name ``entry`` is registered under, or None; imports no lazy entry."""
        for name, (registered, _) in self._user.items():
            if registered is entry:
                return name
        for name, imported in self._imported.items():
            if imported is entry:
                return name
        qualified = f"{getattr(entry, '__module__', '')}:{getattr(entry, '__qualname__', '')}"
        # Entry points read again last, and only on a miss (a scan of every installed
        # distribution): a plugin installed after the first look.
        readers = (lambda: self._builtins, self._entry_points, lambda: self._entry_points(True))
        for read in readers:
            for name, reference in read().items():
                if reference == qualified:
                    return name
        return None

    def reference(self, name: str, backend: str) -> str | None:
        """How a worker process finds entry ``name``: None for a built-in (workers have
        the package), else a ``"module:qualname"`` that resolves to this very object.

        Parameters
        ----------
        name : str
        backend : str
            Named in the error, e.g. ``"the process backend"``.

        Raises
        ------
        ParameterError
            When a registered object cannot travel by reference: defined in
            ``__main__``, in a function (a closure), a lambda, or an instance that is
            no module-level name.
        """
        if name not in self._user:
            return None if name in self._builtins else self._lazy_reference(name)
        entry, module = self._user[name]
        qualname = getattr(entry, "__qualname__", None)
        if isinstance(qualname, str):
            module = getattr(entry, "__module__", module)
        else:  # an instance: the module-level name it was assigned to, if any
            namespace = vars(sys.modules[module]) if module in sys.modules else {}
            qualname = next((key for key, value in namespace.items() if value is entry), None)
        what = f"{backend} cannot send {self.kind} {name!r} to its workers"
        if module in (None, "__main__"):
            raise ParameterError(
                f"{what}: it is defined in __main__, which they cannot import; {_HINT}"
            )
        if qualname is None or "<" in qualname:
            label = "a lambda or a function's local" if qualname else "not a module-level name"
            raise ParameterError(f"{what}: it is {label} of {module}; {_HINT}")
        reference = f"{module}:{qualname}"
        try:
            found = resolve(reference) is entry
        except Exception:
            found = False
        if not found:
            raise ParameterError(f"{what}: {reference} does not name it; {_HINT}")
        return reference


def plugin_references(needed: list[tuple[str, str]], backend: str) -> Plugins:
    """What a job carries to its workers: a reference for each (kind, name) that is not
    built in (see :meth:`Registry.reference`)."""
    plugins = []
    # Each entry once: worker_plugins lists a model's adapter for every model.
    for kind, name in dict.fromkeys(needed):
        reference = _REGISTRIES[kind].reference(name, backend)
        if reference is not None:
            plugins.append((kind, name, reference))
    return tuple(plugins)


def load_plugins(plugins: Plugins) -> None:
    """In a worker process: import the entries a job uses and register them here.

    Raises
    ------
    ParameterError
        One line, when an entry's module cannot be imported in this process.
    """
    for plugin in plugins:
        if plugin in _loaded_plugins:
            continue
        kind, name, reference = plugin
        registry = _REGISTRIES[kind]
        try:
            entry = resolve(reference)
        except Exception as exc:  # a plugin's import can fail in any way
            raise ParameterError(
                f"a worker process cannot import {kind} {name!r} from {reference} "
                f"({_last_line(exc)}): install its module on the workers or put its folder "
                f"on PYTHONPATH"
            ) from None
        registry._user[name] = (entry, reference.partition(":")[0])
        _loaded_plugins.add(plugin)
