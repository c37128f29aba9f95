"""Atomic file writes: a crash or kill never leaves a half-written result behind."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import ModelCentralityError, printable


def unwritable_reason(path: str | os.PathLike) -> str | None:
    """Why a file cannot be written at ``path`` (None when it can, as far as we can tell)."""
    path = Path(path)
    if path.is_dir():
        return "is a folder, not a file"
    if path.exists() and not path.is_file():
        return "is not a regular file"
    parent = path.parent
    for folder in (parent, *parent.parents):
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK | os.X_OK) and folder == parent:
                return f"folder {folder} is not writable"
            break
    if path.exists() and not os.access(path, os.W_OK):
        return "is not writable"
    return None


def unwritable_folder_reason(path: str | os.PathLike, file_name: str | None = None) -> str | None:
    """Why a folder (to be created if needed) cannot receive files at ``path``; with
    ``file_name``, also why that file in it cannot be written. None when it can."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return "is a file, not a folder"
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder"
            if not os.access(folder, os.W_OK | os.X_OK):
                return f"folder {folder} is not writable"
            break
    if file_name is not None and path.is_dir():
        reason = unwritable_reason(path / file_name)
        if reason:
            return f"{path / file_name} {reason}"
    return None


def _write_error(path: Path, exc: OSError) -> ModelCentralityError:
    """One line for a failed write: the path and the OS's reason (e.g. a full disk)."""
    return ModelCentralityError(printable(f"cannot write {path}: {exc.strerror or exc}"))


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temp file next to ``path``, then rename it over ``path``.

    Raises
    ------
    ModelCentralityError
        When the file cannot be written (one line naming it and the reason).
    """
    path = Path(path)
    reason = unwritable_reason(path)
    if reason:
        raise ModelCentralityError(printable(f"cannot write {path}: {reason}"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        # mkstemp creates the file private (0600); results are meant to be shared.
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        # A full disk (ENOSPC), a quota (EDQUOT), an I/O error: the old file stays.
        Path(tmp).unlink(missing_ok=True)
        raise _write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    text = json.dumps(payload, indent=2) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))
