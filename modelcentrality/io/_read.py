"""One defensive reader for every file the tool reads.

A file named on the command line or found in a zoo may be anything: a FIFO that never
delivers, a device that never ends, a gigabyte of brackets, numbers beyond float64.
Every read goes through :func:`open_regular`, which opens the path without blocking and
checks what it opened (a regular file, below a size limit) before reading a byte; JSON
then goes through :func:`read_json`, which also bounds the nesting depth and lets only
finite numbers through, naming the field that holds a bad one.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Callable
from typing import IO, Any

from ..errors import ModelCentralityError, ParameterError, printable

#: Size limits (bytes) of the files the tool reads; far above real ones.
MAX_SMALL_JSON_BYTES = 1 << 20  # model.json, train-zoo specs
MAX_JSON_BYTES = 256 << 20  # rank results, ground truth, manifests
MAX_CHECKPOINT_BYTES = 8 << 30
MAX_CACHE_ENTRY_BYTES = 1 << 30
#: Nesting depth of any JSON file the tool reads (its own files need fewer than 8).
MAX_DEPTH = 64
#: Integers in JSON files must fit in 64 bits; bigger ones are treated as non-finite.
MAX_INT = 2**63


class FileReadError(ModelCentralityError):
    """A file cannot be read, or does not hold what it should.

    Attributes
    ----------
    path : str
    problem : str
        What is wrong, without the path.
    """

    def __init__(self, path: str | os.PathLike, problem: str, what: str = "") -> None:
        self.path = str(path)
        self.problem = problem
        self.what = what
        prefix = f"{what} " if what else ""
        super().__init__(printable(f"cannot read {prefix}{self.path}: {problem}"))

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.what))


def open_regular(path: str | os.PathLike, *, max_bytes: int, what: str = "") -> IO[bytes]:
    """Open ``path`` for binary reading, if it is a regular file of at most ``max_bytes``.

    The file is opened non-blocking and checked with ``fstat`` on the open descriptor,
    so a FIFO (which would block until a writer comes) or a device (which may never end)
    is refused without reading, and nothing can swap the file between check and read.

    Raises
    ------
    FileReadError
        Naming the path: missing, not a regular file, too large, or an OS error.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileReadError(path, exc.strerror or str(exc), what) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileReadError(path, "is a folder, not a file", what)
        if not stat.S_ISREG(info.st_mode):
            raise FileReadError(path, "is not a regular file (a FIFO, socket or device)", what)
        if info.st_size > max_bytes:
            raise FileReadError(
                path, f"is {info.st_size} bytes, more than the {max_bytes} allowed", what
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, *, max_bytes: int, what: str = "") -> bytes:
    """The content of a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes=max_bytes, what=what) as handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(size + 1)
            if len(data) > size:
                # It grew since fstat, or is one of the files (/proc) whose size is 0:
                # one byte more than allowed tells a file that is too large.
                data += handle.read(max_bytes + 1 - len(data))
        except OSError as exc:
            raise FileReadError(path, exc.strerror or str(exc), what) from None
    if len(data) > max_bytes:
        raise FileReadError(path, f"is more than the {max_bytes} bytes allowed", what)
    return data


class _NonFinite:
    """Stands in for a number that is not a finite float64 until the walk finds it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text if len(text) <= 24 else text[:20] + "..."


def _parse_int(text: str) -> int | _NonFinite:
    # Checked on the text first: int() of a 10,000-digit string is slow, or refused.
    if len(text.lstrip("-")) > 19:
        return _NonFinite(text)
    value = int(text)
    return value if abs(value) <= MAX_INT else _NonFinite(text)


def field_path(parts: list[Any]) -> str:
    """``["models", 3, "scores"]`` as ``models[3].scores`` (the top level: ``(top)``);
    keys come from the file, so they are escaped (a newline in a key stays one line)."""
    out = ""
    for part in parts:
        key = printable(str(part))
        out += f"[{part}]" if isinstance(part, int) else (f".{key}" if out else key)
    return out or "(top)"


def _not_finite(item: Any) -> str | None:
    """How ``item`` was written when it is a number that is not finite, else None.

    Floats are checked here rather than by a parse hook, which is several times slower
    on results with large matrices (``1e400`` was parsed as ``inf``).
    """
    if isinstance(item, _NonFinite):
        return item.text
    if type(item) is float and not math.isfinite(item):
        return repr(item)
    return None


def _walk(value: Any, max_depth: int, non_finite: str) -> Any:
    """Check depth and numbers without recursion; replace or refuse non-finite ones."""
    root = [value]  # a holder, so that the top level is checked like any item
    stack: list[tuple[Any, list[Any]]] = [(root, [])]
    while stack:
        container, where = stack.pop()
        if len(where) >= max_depth:
            raise RecursionError
        if type(container) is list:
            # Fast path for rows of numbers (result matrices): fsum is finite only when
            # every item is a finite number (None, containers and stand-ins raise).
            try:
                if math.isfinite(math.fsum(container)):
                    continue
            except (TypeError, OverflowError):
                pass
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, item in list(items):
            # The holder's index is not part of the field's path.
            path = [*where, key] if container is not root else []
            if isinstance(item, (dict, list)):
                stack.append((item, path))
            elif (shown := _not_finite(item)) is not None:
                if non_finite == "refuse":
                    raise ParameterError(f"{field_path(path)} must be a finite number, got {shown}")
                container[key] = None
    return root[0]


def parse_json(
    data: bytes | str,
    *,
    max_depth: int = MAX_DEPTH,
    non_finite: str = "refuse",
) -> Any:
    """Parse JSON text with bounded depth and finite numbers only.

    Parameters
    ----------
    data : bytes or str
        UTF-8 JSON text.
    max_depth : int
        Most nested arrays and objects.
    non_finite : {"refuse", "null"}
        What ``NaN``, ``Infinity``, numbers beyond float64 and integers beyond 64 bits
        become: an error naming the field, or None (a missing value).

    Raises
    ------
    ParameterError
        One line: not UTF-8, not JSON, nested too deeply, or a non-finite number (with
        its field).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParameterError(f"is not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(data, parse_constant=_NonFinite, parse_int=_parse_int)
        return _walk(value, max_depth, non_finite)
    except RecursionError:
        raise ParameterError(f"is nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise ParameterError(f"is not valid JSON ({exc})") from None


def read_json(
    path: str | os.PathLike,
    *,
    what: str = "",
    max_bytes: int = MAX_JSON_BYTES,
    max_depth: int = MAX_DEPTH,
    non_finite: str = "refuse",
) -> Any:
    """Read a JSON file defensively (:func:`open_regular`, then :func:`parse_json`).

    Raises
    ------
    FileReadError
        One line naming the path and the problem.
    """
    data = read_bytes(path, max_bytes=max_bytes, what=what)
    try:
        return parse_json(data, max_depth=max_depth, non_finite=non_finite)
    except ValueError as exc:
        raise FileReadError(path, str(exc), what) from None


class FieldProblem(ModelCentralityError, ValueError):
    """What a field check raises: the value is not what the field must hold.

    The message follows the field's name ("must be a list of ..."); :func:`check_field`
    turns it into a :class:`SchemaError` that names the field.
    """


class SchemaError(ModelCentralityError, ValueError):
    """A field of a JSON document has the wrong type or value.

    Attributes
    ----------
    field : str
        Where, e.g. ``scores[3]``.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"no {field}" if problem == "missing" else f"{field} {problem}")


def check_field(
    payload: dict[str, Any],
    key: str,
    check: Callable[[Any], Any],
    *,
    required: bool = False,
    default: Any = None,
) -> Any:
    """``check(payload[key])``, or ``default`` when the key is absent and not required.

    ``check`` converts the value or raises :class:`FieldProblem` (any ValueError) saying
    what it must be, phrased
    to follow the field's name ("must be a list of ...").

    Raises
    ------
    SchemaError
        Naming ``key``: absent though required, or refused by ``check``.
    """
    if key not in payload:
        if required:
            raise SchemaError(key, "missing")
        return default
    try:
        return check(payload[key])
    except ValueError as exc:
        raise SchemaError(key, str(exc)) from None
