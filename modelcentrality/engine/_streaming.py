"""Streaming reductions of encoded chunks, computed where the chunk lives.

The vote engine never needs an encoder's raw codes, only two small reductions of them:
the per-dim moments of the scale set and the per-vote within-group variances. Both are
computed here in float64 on the array's own device (a numpy array on the host, or a
device tensor of a framework such as PyTorch), and only the reduced arrays, (E,) or
(G, E) floats, come back to the host. A device-resident engine therefore moves no
observations or codes between device and host.

Arrays are dispatched on their type: numpy arrays use numpy; any other array type must
offer the PyTorch tensor methods used below (``double``, ``mean``, ``sum``, ``var``,
``reshape``, ``cpu``). The module never imports a framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def to_host(values: Any) -> np.ndarray:
    """A numpy copy (or view) of a numpy array or a device tensor."""
    if isinstance(values, np.ndarray):
        return values
    return values.detach().cpu().numpy()


def _chunk_moments(codes: Any) -> tuple[int, np.ndarray, np.ndarray]:
    """Row count, per-dim mean and sum of squared deviations of one chunk, in float64."""
    if isinstance(codes, np.ndarray):
        rows = codes.astype(np.float64)
        mean = rows.mean(axis=0)
        return rows.shape[0], mean, ((rows - mean) ** 2).sum(axis=0)
    rows = codes.double()
    mean = rows.mean(dim=0)
    return rows.shape[0], to_host(mean), to_host(((rows - mean) ** 2).sum(dim=0))


def group_variances(codes: Any, group_size: int) -> np.ndarray:
    """Within-group variance of each dim, for consecutive groups of ``group_size`` rows.

    Parameters
    ----------
    codes : array of shape (G * group_size, E)
        numpy array or device tensor.
    group_size : int

    Returns
    -------
    ndarray of shape (G, E), float64, on the host
        Population variance (ddof 0) of each group's rows.
    """
    if isinstance(codes, np.ndarray):
        return codes.astype(np.float64).reshape(-1, group_size, codes.shape[1]).var(axis=1)
    grouped = codes.double().reshape(-1, group_size, codes.shape[1])
    return to_host(grouped.var(dim=1, unbiased=False))


class ScaleMoments:
    """Per-dim mean and std over streamed chunks (Chan et al. merge, float64).

    Each chunk is reduced where it lives (see module docs); only the (E,) moments are
    merged on the host, so the result does not depend on the chunk size beyond float
    rounding.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean: np.ndarray | None = None
        self.m2: np.ndarray | None = None

    def update(self, codes: Any) -> None:
        """Add a chunk of codes, shape (B, E) (numpy array or device tensor)."""
        self.merge(*_chunk_moments(codes))

    def merge(self, n: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Add the moments of ``n`` rows: their per-dim mean and sum of squared
        deviations, shape (E,)."""
        if self.mean is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.count = total

    def std(self) -> np.ndarray:
        """Sample std (ddof 1) of every dim, shape (E,)."""
        return np.sqrt(self.m2 / (self.count - 1))


class BlockMoments:
    """Per-dim moments of consecutive blocks of ``block_size`` streamed rows.

    Blocks follow the row order, not the chunks, so they do not depend on the chunk
    size. The scale set's rows are independent draws, so its blocks are too: a
    bootstrap can resample them to measure how much the scale estimate varies.
    """

    def __init__(self, block_size: int) -> None:
        self.block_size = int(block_size)
        self.blocks: list[ScaleMoments] = []

    def update(self, codes: Any) -> None:
        """Add a chunk of codes, shape (B, E) (numpy array or device tensor)."""
        start, rows = 0, codes.shape[0]
        while start < rows:
            if not self.blocks or self.blocks[-1].count == self.block_size:
                self.blocks.append(ScaleMoments())
            stop = start + self.block_size - self.blocks[-1].count
            self.blocks[-1].merge(*_chunk_moments(codes[start:stop]))
            start = stop

    def arrays(self, n_dims: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Counts (n_blocks,), means and sums of squared deviations (n_blocks, E)."""
        if not self.blocks:
            return np.zeros(0, dtype=np.int64), np.zeros((0, n_dims)), np.zeros((0, n_dims))
        return (
            np.array([block.count for block in self.blocks], dtype=np.int64),
            np.stack([block.mean for block in self.blocks]),
            np.stack([block.m2 for block in self.blocks]),
        )
