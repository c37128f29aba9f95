"""The report's figures, drawn with matplotlib (Agg) and returned as PNG bytes."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelCentralityError, printable

INSTALL_HINT = "the report needs matplotlib: pip install 'modelcentrality[report]'"


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), or a one-line error."""
    try:
        import matplotlib
    except ImportError:
        raise ModelCentralityError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Longest model name drawn in a figure (the page's table shows the whole name).
MAX_LABEL_CHARS = 40


def label(name: str) -> str:
    """A model name as figure text: control characters escaped (the font has no glyph
    for them), cut to :data:`MAX_LABEL_CHARS`. Drawn with ``parse_math=False``, so a
    ``$`` is a dollar sign, never mathtext."""
    text = printable(str(name))
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "\u2026"


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A name may hold characters the font lacks (emoji...): they are drawn as boxes.
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        # "tight" fits the canvas to its labels, whatever their length, without the
        # warnings tight_layout gives when they cannot fit the figure's size.
        figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    pyplot().close(figure)
    return buffer.getvalue()


def heatmap_scale(similarity: np.ndarray) -> tuple[float, float, float]:
    """The heatmap's colour scale: the lowest off-diagonal similarity, the zoo's mean
    (white) and the highest."""
    matrix = np.asarray(similarity, dtype=np.float64).copy()
    np.fill_diagonal(matrix, np.nan)
    values = matrix[np.isfinite(matrix)]
    if not len(values):
        return 0.0, 0.5, 1.0
    centre = float(values.mean())
    # A zoo of equal similarities still needs a scale around its one value.
    low = min(float(values.min()), centre - 1e-6)
    high = max(float(values.max()), centre + 1e-6)
    return low, centre, high


def similarity_heatmap(
    similarity: np.ndarray,
    names: Sequence[str],
    order: Sequence[int],
    scale: tuple[float, float, float] | None = None,
) -> bytes:
    """Heatmap of the (N, N) similarity, rows and columns in ``order`` (most central
    first), diagonal left out (grey), colours white at the zoo's mean similarity, blue
    down to the lowest cell and red up to the highest (``scale``, by default
    :func:`heatmap_scale`), so the colour bar shows how narrow the range is."""
    from matplotlib.colors import TwoSlopeNorm

    plt = pyplot()
    order = list(order)
    low, centre, high = heatmap_scale(similarity) if scale is None else scale
    matrix = np.asarray(similarity, dtype=np.float64)[np.ix_(order, order)].copy()
    # The diagonal is self-consistency, not part of the centrality; left out so that it
    # does not set the colour scale.
    np.fill_diagonal(matrix, np.nan)
    labels = [label(names[i]) for i in order]
    size = min(3.0 + 0.35 * len(order), 14.0)
    figure, axis = plt.subplots(figsize=(size + 1.5, size))
    norm = TwoSlopeNorm(vcenter=centre, vmin=low, vmax=high)
    image = axis.imshow(np.ma.masked_invalid(matrix), cmap="RdBu_r", norm=norm)
    ticks = np.arange(len(order))
    fontsize = 8 if len(order) <= 30 else 5
    axis.set_xticks(ticks, labels, rotation=90, fontsize=fontsize, parse_math=False)
    axis.set_yticks(ticks, labels, fontsize=fontsize, parse_math=False)
    axis.set_title("similarity (cross + cross\u1d40) / 2, most central first", fontsize=9)
    axis.set_facecolor("#bbbbbb")
    bar = figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    bar.set_ticks([low, centre, high])
    bar.set_label(f"similarity (white: the zoo's mean, {centre:.4f})", fontsize=8)
    return _png(figure)


def traversal_figure(grid: np.ndarray, title: str, code_dims: Sequence[int]) -> bytes:
    """One image of a traversal grid (K, columns, C, H, W): a row per code dim.

    One-channel observations are drawn in grey, three-channel ones in colour; others
    show their first channel. Values are clipped to [0, 1].
    """
    plt = pyplot()
    grid = np.asarray(grid, dtype=np.float32)
    if grid.ndim == 4:
        grid = grid[:, :, None]
    rows, columns, channels, height, width = grid.shape[:5]
    if channels != 3:
        grid = grid[:, :, :1]
    gap = max(1, height // 16)
    mosaic = np.ones(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, grid.shape[2]),
        dtype=np.float32,
    )
    for r in range(rows):
        for c in range(columns):
            top, left = r * (height + gap), c * (width + gap)
            mosaic[top : top + height, left : left + width] = np.moveaxis(grid[r, c], 0, -1)
    mosaic = np.clip(mosaic, 0.0, 1.0)
    figure, axis = plt.subplots(figsize=(0.45 * columns + 1.0, 0.45 * rows + 0.6))
    if mosaic.shape[-1] == 1:
        axis.imshow(mosaic[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axis.imshow(mosaic, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks(
        [r * (height + gap) + height / 2 for r in range(rows)],
        [f"code {d}" for d in code_dims],
        fontsize=8,
    )
    axis.set_xlabel("prior quantile \u2192", fontsize=8)
    axis.set_title(label(title), fontsize=9, parse_math=False)
    return _png(figure)
