"""On-disk cache of finished (source, encoder) pairs: resume, and grow a zoo cheaply.

A pair's entry is keyed by content fingerprints of both models plus the protocol and
seed, so a changed model file, protocol or seed never reuses a stale result. Entries
are written atomically; an unreadable entry is deleted and recomputed.

Layout: ``CACHE/<source key>/<encoder fingerprint>.npz``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..contract._model import Model
from ..engine._votes import Protocol, VoteResult
from ..io._files import atomic_write


class PairCache:
    """Per-pair FactorVAE results stored under ``cache_dir``.

    Models whose :meth:`~modelcentrality.model.Model.fingerprint` is None are never
    cached.
    """

    def __init__(self, cache_dir: str | os.PathLike, protocol: Protocol, seed: int) -> None:
        self.root = Path(cache_dir)
        self.settings = json.dumps({"protocol": protocol.to_dict(), "seed": seed}, sort_keys=True)

    def _path(self, source: Model, encoder: Model) -> Path | None:
        source_print, encoder_print = source.fingerprint(), encoder.fingerprint()
        if source_print is None or encoder_print is None:
            return None
        source_key = hashlib.sha256(f"{source_print}|{self.settings}".encode()).hexdigest()
        return self.root / source_key[:32] / f"{encoder_print[:32]}.npz"

    def load(self, source: Model, encoder: Model) -> VoteResult | None:
        """The cached result for this pair, or None."""
        path = self._path(source, encoder)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                eval_table = data["eval_table"]
                return VoteResult(
                    score=float(data["score"]),
                    revised_score=float(data["revised_score"]),
                    train_table=data["train_table"],
                    eval_table=eval_table if eval_table.size else None,
                    scale_std=data["scale_std"],
                )
        except Exception:  # any damage to the entry: drop it and recompute the pair
            path.unlink(missing_ok=True)
            return None

    def store(self, source: Model, encoder: Model, result: VoteResult) -> None:
        path = self._path(source, encoder)
        if path is None:
            return
        eval_table = result.eval_table if result.eval_table is not None else np.zeros((0, 0))
        atomic_write(
            path,
            lambda handle: np.savez(
                handle,
                score=result.score,
                revised_score=result.revised_score,
                train_table=result.train_table,
                eval_table=eval_table,
                scale_std=result.scale_std,
            ),
        )
