"""How closely procedural dSprites match official renders: the best overlap per tile.

An official tile (a 64x64 binary image taken from the official file, e.g. a published
sample grid) is matched against procedural images: every (shape, scale, orientation)
sprite is placed at the position that lines its centroid up with the tile's, the best
few are tried again one position step around it, and the highest intersection over
union (IoU) wins. Factors known for a tile (e.g. a grid drawn with orientation fixed)
restrict the search to images with those values.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .base import DatasetError
from .dsprites import FACTOR_NAMES, FACTOR_SIZES, POSITION_RANGE, render


def _centroids(images: np.ndarray) -> np.ndarray:
    """(column, row) centre of mass of binary images (n, 64, 64), in pixel units."""
    rows, cols = np.mgrid[: images.shape[1], : images.shape[2]]
    mass = np.maximum(images.sum(axis=(1, 2)), 1)
    return np.stack(
        [(images * cols).sum(axis=(1, 2)) / mass, (images * rows).sum(axis=(1, 2)) / mass],
        axis=1,
    )


@functools.lru_cache(maxsize=1)
def _sprites() -> tuple[np.ndarray, np.ndarray]:
    """Every (shape, scale, orientation) as factors (720, 5) at position (0, 0), and its
    centroid there (column, row), shape (720, 2)."""
    shape, scale, orientation = np.meshgrid(
        *(np.arange(size) for size in FACTOR_SIZES[:3]), indexing="ij"
    )
    factors = np.zeros((shape.size, 5), dtype=np.int64)
    factors[:, 0], factors[:, 1], factors[:, 2] = shape.ravel(), scale.ravel(), orientation.ravel()
    return factors, _centroids(render(factors))


def _iou(images: np.ndarray, tile: np.ndarray) -> np.ndarray:
    union = (images | tile).sum(axis=(1, 2))
    return (images & tile).sum(axis=(1, 2)) / np.maximum(union, 1)


def match_official(
    tiles: Any, fixed: dict[str, int] | None = None, *, n_refine: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """The procedural image closest to each official tile.

    Parameters
    ----------
    tiles : array-like of shape (n, 64, 64)
        Binary official images (nonzero = sprite).
    fixed : dict, optional
        Factor name (see ``DSprites.factor_names``) -> class index known for every tile;
        only images with these values are searched.
    n_refine : int
        How many best centroid-aligned sprites are tried again at the 3x3 neighbouring
        positions.

    Returns
    -------
    iou : ndarray of shape (n,)
        Intersection over union of each tile with its best match.
    factors : ndarray of shape (n, 5), int64
        Factor class indices of the best match.

    Raises
    ------
    DatasetError
        An unknown factor name or a value outside its range in ``fixed``.
    """
    tiles = np.asarray(tiles) != 0
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(FACTOR_NAMES)
    if unknown:
        raise DatasetError(f"unknown factor name(s) {sorted(unknown)}: known are {FACTOR_NAMES}")
    for name, value in fixed.items():
        size = FACTOR_SIZES[FACTOR_NAMES.index(name)]
        if not isinstance(value, (int, np.integer)) or not 0 <= value < size:
            raise DatasetError(f"factor '{name}' must be an integer in [0, {size}), got {value!r}")
    sprites, sprite_centroids = _sprites()
    keep = np.ones(len(sprites), dtype=bool)
    for column, name in enumerate(FACTOR_NAMES[:3]):
        if name in fixed:
            keep &= sprites[:, column] == fixed[name]
    sprites, sprite_centroids = sprites[keep], sprite_centroids[keep]
    low, high = POSITION_RANGE
    step = (high - low) / (FACTOR_SIZES[3] - 1)
    best_iou = np.zeros(len(tiles))
    best_factors = np.zeros((len(tiles), 5), dtype=np.int64)
    tile_centroids = _centroids(tiles)
    for n, tile in enumerate(tiles):
        candidates = sprites.copy()
        # Position 0 puts the centroid at sprite_centroids; each step moves it by `step`.
        shift = np.rint((tile_centroids[n] - sprite_centroids) / step).astype(np.int64)
        candidates[:, 3:] = np.clip(shift, 0, np.asarray(FACTOR_SIZES[3:]) - 1)
        for column, name in ((3, FACTOR_NAMES[3]), (4, FACTOR_NAMES[4])):
            if name in fixed:
                candidates[:, column] = fixed[name]
        scores = _iou(render(candidates), tile)
        top = candidates[np.argsort(scores)[-n_refine:]]
        moves = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
        around = np.repeat(top, len(moves), axis=0)
        around[:, 3:] += np.tile(moves, (len(top), 1))
        around[:, 3:] = np.clip(around[:, 3:], 0, np.asarray(FACTOR_SIZES[3:]) - 1)
        for column, name in ((3, FACTOR_NAMES[3]), (4, FACTOR_NAMES[4])):
            if name in fixed:
                around[:, column] = fixed[name]
        pool = np.concatenate([candidates, around])
        scores = _iou(render(pool), tile)
        winner = int(np.argmax(scores))
        best_iou[n], best_factors[n] = scores[winner], pool[winner]
    return best_iou, best_factors
