"""On-disk cache of finished (source, encoder) pairs: resume, and grow a zoo cheaply.

A pair's entry is keyed by content fingerprints of both models (every file they read,
ONNX external data included) plus the protocol and seed, so a changed model file,
protocol or seed never reuses a stale result. Entries are written atomically and hold a
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
from ..engine import Protocol, VoteData, VoteResult
from ..errors import ModelCentralityError
from ..io import CACHE_MARKER, MAX_CACHE_ENTRY_BYTES, METADATA_FILE, atomic_write, open_regular

_ARRAYS = (
    "score",
    "revised_score",
    "train_table",
    "eval_table",
    "scale_std",
    "group_var",
    "factors",
    "n_train",
    "scale_counts",
    "scale_means",
    "scale_m2",
    "prune_std",
)
#: Entry format: part of every key, so entries of another format (format 1 held the
#: vote tables only) are never found, hence recomputed, never misread.
FORMAT = 2


class PairCache:
    """Per-pair FactorVAE results stored under ``cache_dir``.

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
        digest = hashlib.sha256(inputs.encode())
        for name in _ARRAYS:
            values = np.ascontiguousarray(arrays[name])
            digest.update(f"|{name}|{values.dtype.str}|{values.shape}|".encode())
            digest.update(values.tobytes())
        return digest.hexdigest()

    def load(self, source: Model, encoder: Model) -> VoteResult | None:
        """The cached result for this pair, or None (also for a damaged entry, deleted).

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
        try:
            with (
                open_regular(path, max_bytes=MAX_CACHE_ENTRY_BYTES, what="cache entry") as handle,
                np.load(handle, allow_pickle=False) as data,
            ):
                arrays = {name: data[name] for name in _ARRAYS}
                stored = str(data["checksum"])
        except Exception:  # any damage to the entry: drop it and recompute the pair
            stored, arrays = "", {}
        if (
            not arrays
            or stored != self._checksum(inputs, arrays)
            or not np.isfinite(arrays["score"])
            or not np.isfinite(arrays["revised_score"])
        ):
            path.unlink(missing_ok=True)
            return None
        eval_table = arrays["eval_table"]
        prune_std = float(arrays["prune_std"])
        data = VoteData(
            group_var=arrays["group_var"],
            factors=arrays["factors"],
            n_train=int(arrays["n_train"]),
            scale_counts=arrays["scale_counts"],
            scale_means=arrays["scale_means"],
            scale_m2=arrays["scale_m2"],
            prune_std=None if np.isnan(prune_std) else prune_std,
        )
        return VoteResult(
            score=float(arrays["score"]),
            revised_score=float(arrays["revised_score"]),
            train_table=arrays["train_table"],
            eval_table=eval_table if eval_table.size else None,
            scale_std=arrays["scale_std"],
            data=data,
        )

    def store(self, source: Model, encoder: Model, result: VoteResult) -> None:
        """Write a pair's entry (a result without its VoteData is not stored)."""
        key = self._key(source, encoder)
        if key is None or result.data is None:
            return
        path, inputs = key
        marker = self.root / CACHE_MARKER
        if not marker.exists():
            atomic_write(marker, lambda handle: handle.write(b"modelcentrality pair cache\n"))
        eval_table = result.eval_table if result.eval_table is not None else np.zeros((0, 0))
        data = result.data
        arrays = {
            "score": np.asarray(result.score, dtype=np.float64),
            "revised_score": np.asarray(result.revised_score, dtype=np.float64),
            "train_table": np.asarray(result.train_table),
            "eval_table": np.asarray(eval_table),
            "scale_std": np.asarray(result.scale_std),
            "group_var": np.asarray(data.group_var, dtype=np.float64),
            "factors": np.asarray(data.factors, dtype=np.int64),
            "n_train": np.asarray(data.n_train, dtype=np.int64),
            "scale_counts": np.asarray(data.scale_counts, dtype=np.int64),
            "scale_means": np.asarray(data.scale_means, dtype=np.float64),
            "scale_m2": np.asarray(data.scale_m2, dtype=np.float64),
            "prune_std": np.asarray(np.nan if data.prune_std is None else data.prune_std),
        }
        checksum = np.asarray(self._checksum(inputs, arrays))
        atomic_write(path, lambda handle: np.savez(handle, checksum=checksum, **arrays))
