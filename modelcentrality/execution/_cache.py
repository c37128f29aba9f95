"""On-disk cache of finished (source, encoder) pairs: resume, and grow a zoo cheaply.

A pair's entry is keyed by content fingerprints of both models (every file they read,
ONNX external data included) plus the protocol (with the similarity's name, unless it is
FactorVAE's) and seed, so a changed model file, protocol, similarity or seed never
reuses a stale result. Entries are written atomically and hold a
SHA-256 checksum of their key's inputs and their content: an entry that is unreadable,
altered, moved to another key or holds a non-finite score is deleted and recomputed.

Layout: ``CACHE/<source key>/<encoder fingerprint>.npz``, plus a marker file that
tells a zoo loader this folder is not a model (a cache may live inside its zoo).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..contract import Model
from ..engine import Cell, Protocol, get_similarity
from ..errors import ModelCentralityError
from ..io import CACHE_MARKER, MAX_CACHE_ENTRY_BYTES, METADATA_FILE, atomic_write, open_regular

#: Entry format: part of every key, so entries of another format (format 1 held the
#: vote tables only) are never found, hence recomputed, never misread. An entry holds
#: the cell's named arrays (:meth:`~modelcentrality.engine.Cell.to_arrays`; FactorVAE
#: cells wrote the same arrays in format 2 before other cell types existed).
FORMAT = 2


class PairCache:
    """Per-pair cells of the protocol's similarity stored under ``cache_dir``.

    Models whose :meth:`~modelcentrality.contract.Model.fingerprint` is None are never
    cached.
    """

    def __init__(self, cache_dir: str | os.PathLike, protocol: Protocol, seed: int) -> None:
        self.root = Path(cache_dir)
        if self.root.exists() and not self.root.is_dir():
            raise ModelCentralityError(f"cache folder {self.root} is a file, not a folder")
        # A cache may sit inside a zoo (its marker keeps it from being read as a model),
        # but never in a model folder or in the zoo folder itself, where its entries
        # would be taken for models or hide one.
        absolute = self.root.resolve()
        for folder in (absolute, *absolute.parents):
            if (folder / METADATA_FILE).is_file():
                raise ModelCentralityError(
                    f"cache folder {self.root} is inside the model folder {folder}"
                )
        if absolute.is_dir() and any(
            (child / METADATA_FILE).is_file() for child in absolute.iterdir() if child.is_dir()
        ):
            raise ModelCentralityError(f"cache folder {self.root} is a zoo: pick another folder")
        self.cell_type = get_similarity(protocol.similarity).cell_type
        self.settings = json.dumps(
            {"format": FORMAT, "protocol": protocol.to_dict(), "seed": seed}, sort_keys=True
        )

    def _key(self, source: Model, encoder: Model) -> tuple[Path, str] | None:
        """The entry's path and the text of every input its key is made of."""
        source_print, encoder_print = source.fingerprint(), encoder.fingerprint()
        if source_print is None or encoder_print is None:
            return None
        source_key = hashlib.sha256(f"{source_print}|{self.settings}".encode()).hexdigest()
        path = self.root / source_key[:32] / f"{encoder_print[:32]}.npz"
        return path, f"{source_print}|{encoder_print}|{self.settings}"

    @staticmethod
    def _checksum(inputs: str, arrays: dict[str, np.ndarray]) -> str:
        """Over the key's inputs and every array, in the order of the cell's stored form."""
        digest = hashlib.sha256(inputs.encode())
        for name in arrays:
            values = np.ascontiguousarray(arrays[name])
            digest.update(f"|{name}|{values.dtype.str}|{values.shape}|".encode())
            digest.update(values.tobytes())
        return digest.hexdigest()

    def load(self, source: Model, encoder: Model) -> Cell | None:
        """The cached cell for this pair, or None (also for a damaged entry, deleted).

        Raises
        ------
        ModelCentralityError
            When the entry's path is taken by something that is not a file.
        """
        key = self._key(source, encoder)
        if key is None:
            return None
        path, inputs = key
        if not path.is_file():
            if path.exists() or path.is_symlink():
                raise ModelCentralityError(f"cache entry {path} is not a regular file")
            return None
        cell = None
        try:
            with (
                open_regular(path, max_bytes=MAX_CACHE_ENTRY_BYTES, what="cache entry") as handle,
                np.load(handle, allow_pickle=False) as data,
            ):
                # In the order they were written: the checksum covers that order.
                arrays = {name: data[name] for name in data.files if name != "checksum"}
                stored = str(data["checksum"])
            if stored == self._checksum(inputs, arrays):
                cell = self.cell_type.from_arrays(arrays)
                cell = cell if np.isfinite(float(cell.value)) else None
        except Exception:  # any damage to the entry: drop it and recompute the pair
            cell = None
        if cell is None:
            path.unlink(missing_ok=True)
            return None
        return cell

    def store(self, source: Model, encoder: Model, cell: Cell) -> None:
        """Write a pair's entry (a cell without a stored form is not stored)."""
        key = self._key(source, encoder)
        arrays = None if key is None else cell.to_arrays()
        if arrays is None:
            return
        path, inputs = key
        marker = self.root / CACHE_MARKER
        if not marker.exists():
            atomic_write(marker, lambda handle: handle.write(b"modelcentrality pair cache\n"))
        checksum = np.asarray(self._checksum(inputs, arrays))
        atomic_write(path, lambda handle: np.savez(handle, checksum=checksum, **arrays))
