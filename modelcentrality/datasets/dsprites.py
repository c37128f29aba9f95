"""dSprites (Matthey et al., 2017): rendered procedurally, or read from the official file.

737,280 binary 64x64 images of one white sprite on black, one image per combination of
five factors (Matthey et al. 2017), in this factor order (disentanglement_lib's latent factor
indices 1..5):

====  ===========  ======  =========================================
k     name         values  meaning
====  ===========  ======  =========================================
0     shape        3       square, ellipse, heart
1     scale        6       linspace(0.5, 1, 6)
2     orientation  40      linspace(0, 2 pi, 40): index 39 == index 0
3     position_x   32      linspace(0, 1, 32), left to right
4     position_y   32      linspace(0, 1, 32), top to bottom
====  ===========  ======  =========================================

The official file cannot be downloaded here, so :class:`DSprites` renders a compatible
set: same factors, same index order, same image format. The rasteriser is point sampling
of implicit shape functions at pixel centres (no anti-aliasing: the official images are
binary too). Every (shape, scale, orientation) sprite is rasterised once into a 32x32
window around its centre, so a batch is a gather of windows pasted into empty canvases.

Geometry (documented choices; the official generator is not public):

- one position step moves the sprite by exactly one pixel; the sprite centre sits on the
  centre of pixel ``16 + index`` (columns for x, rows for y), so centres span pixels
  16..47 in the middle half of the image, as in the "infinite dSprites" re-implementation
  (centre = 1/4 + position/2 of the canvas). Sprites never touch the border;
- sizes at scale 1: square side 18.9 px, ellipse axes 22.05 x 11.03 px (long axis
  horizontal at orientation 0), heart 22.05 px wide (point down at orientation 0). They
  make the mean pixel value of the whole set 0.043, the normalisation constant published
  for the official images (mean 0.043, std 0.202);
- position x grows rightwards (columns) and position y downwards (rows);
- orientation turns the sprite counter-clockwise as seen on screen.

:meth:`DSprites.from_npz` reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` instead,
after checking its keys, shapes, pixel values and index order.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..io._read import FileReadError, open_regular
from .base import DatasetError, GroundTruthDataset

OFFICIAL_FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
#: The official archive is 26 MB; anything far bigger is not it.
MAX_ARCHIVE_BYTES = 1 << 30
NUM_IMAGES = 737_280
IMAGE_SIZE = 64
SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)

#: Strides of the official index: row-major over (color=1, shape, scale, orientation, x, y).
INDEX_BASES = np.array([245_760, 40_960, 1_024, 32, 1], dtype=np.int64)

#: Sprite sizes at scale 1, in pixels.
SQUARE_SIDE = 18.9
ELLIPSE_AXES = (22.05, 11.025)
HEART_WIDTH = 22.05
#: Pixel (row or column) of the sprite centre at position index 0.
FIRST_CENTRE = 16

_WINDOW = 32
# The heart is the region (x^2 + y^2 - 1)^3 <= x^2 y^3 (y up); measured numerically, it
# spans x in [-1.139, 1.139] and y in [-1, 1.236]: this shift centres its bounding box.
_HEART_HALF_WIDTH = 1.139
_HEART_Y_SHIFT = 0.118


def factor_values() -> tuple[np.ndarray, ...]:
    """The value of every class of every factor, as in the official ``latents_values``.

    Returns
    -------
    tuple of 5 ndarrays
        shape (1., 2., 3.), scale (6,), orientation in radians (40,), position x (32,),
        position y (32,).
    """
    return (
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2.0 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


@functools.lru_cache(maxsize=1)
def sprite_windows() -> np.ndarray:
    """Every (shape, scale, orientation) sprite rasterised in a 32x32 window.

    The sprite centre is window pixel (16, 16). Orientation index 39 (2 pi) reuses the
    angle of index 0, so the two render identically.

    Returns
    -------
    ndarray of shape (3, 6, 40, 32, 32), uint8 in {0, 1}, read-only
    """
    offsets = np.arange(_WINDOW, dtype=np.float64) - _WINDOW // 2
    rows, cols = np.meshgrid(offsets, offsets, indexing="ij")
    right, up = cols, -rows  # shape frame: y points up on screen
    # Index 39 is 2 pi: reusing the angle of index 0 makes the two identical bit for bit.
    angles = 2.0 * np.pi * (np.arange(40) % 39) / 39.0
    cos = np.cos(angles)[None, :, None, None]
    sin = np.sin(angles)[None, :, None, None]
    scales = factor_values()[1][:, None, None, None]
    # Rotating the pixel grid by -angle turns the sprite by +angle (counter-clockwise).
    u = (cos * right + sin * up) / scales
    v = (cos * up - sin * right) / scales

    square = np.maximum(np.abs(u), np.abs(v)) <= SQUARE_SIDE / 2
    a, b = ELLIPSE_AXES[0] / 2, ELLIPSE_AXES[1] / 2
    ellipse = (u / a) ** 2 + (v / b) ** 2 <= 1.0
    unit = HEART_WIDTH / (2 * _HEART_HALF_WIDTH)
    x, y = u / unit, v / unit + _HEART_Y_SHIFT
    r = x * x + y * y - 1.0
    heart = r * r * r <= x * x * y * y * y

    windows = np.stack([square, ellipse, heart]).astype(np.uint8)
    windows.flags.writeable = False
    return windows


def _check_index(index: Any) -> np.ndarray:
    array = np.asarray(index)
    if array.dtype.kind not in "iu":
        raise ValueError(f"dsprites: indices must be integers, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_IMAGES):
        bad = array[(array < 0) | (array >= NUM_IMAGES)].flat[0]
        raise ValueError(f"dsprites: indices must lie in [0, {NUM_IMAGES}), got {bad}")
    return array.astype(np.int64, copy=False)


def _index_to_factors(index: np.ndarray) -> np.ndarray:
    return (index[..., None] // INDEX_BASES) % np.asarray(FACTOR_SIZES)


def render(factors: np.ndarray) -> np.ndarray:
    """Procedural binary images for valid factor indices.

    Parameters
    ----------
    factors : ndarray of shape (n, 5), int
        Class indices, already validated.

    Returns
    -------
    ndarray of shape (n, 64, 64), uint8 in {0, 1}
    """
    windows = sprite_windows()
    n = len(factors)
    images = np.zeros((n, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    # A writable view of every image as its 33x33 grid of 32x32 windows: window (i, j)
    # starts at pixel (i, j). Each image receives exactly one window, so no two writes
    # overlap and the fancy-indexed assignment is a plain copy.
    step_image, step_row, step_col = images.strides
    grid = as_strided(
        images,
        shape=(n, 33, 33, _WINDOW, _WINDOW),
        strides=(step_image, step_row, step_col, step_row, step_col),
        writeable=True,
    )
    origin = FIRST_CENTRE - _WINDOW // 2
    grid[np.arange(n), factors[:, 4] + origin, factors[:, 3] + origin] = windows[
        factors[:, 0], factors[:, 1], factors[:, 2]
    ]
    return images


def check_official_images(images: Any, where: str) -> np.ndarray:
    """Validate an official-format image array; returns it as uint8.

    Raises
    ------
    DatasetError
        Wrong shape or dtype, or pixels other than 0 and 1; the message starts with
        ``where``.
    """
    images = np.asarray(images)
    expected = (NUM_IMAGES, IMAGE_SIZE, IMAGE_SIZE)
    if images.shape != expected:
        raise DatasetError(f"{where}: 'imgs' has shape {images.shape}, expected {expected}")
    if images.dtype.kind not in "biu":
        raise DatasetError(f"{where}: 'imgs' must hold integer pixels, got dtype {images.dtype}")
    low, high = int(images.min()), int(images.max())
    if low < 0 or high > 1:
        raise DatasetError(f"{where}: 'imgs' must hold 0/1 pixels, found values in [{low}, {high}]")
    return images.astype(np.uint8, copy=False)


def load_official_npz(path: str | os.PathLike) -> np.ndarray:
    """Read and validate the official dSprites file; returns ``imgs``, uint8 (737280, 64, 64).

    ``path`` is the file, or a folder holding it under its official name
    (:data:`OFFICIAL_FILE_NAME`). Only ``imgs``, ``latents_classes`` and
    ``latents_values`` are read (without pickle):
    ``metadata`` is a pickled dict and is ignored. ``latents_classes`` must follow the
    official index order.

    Raises
    ------
    DatasetError
        One line naming the file and the problem: missing file, not an .npz archive,
        missing keys, unreadable arrays, wrong shapes or values, wrong order.
    """
    if os.path.isdir(path):
        path = os.path.join(path, OFFICIAL_FILE_NAME)
    where = f"dSprites file '{os.fspath(path)}'"
    if not os.path.exists(path):
        raise DatasetError(f"{where}: no such file")
    try:
        handle = open_regular(path, max_bytes=MAX_ARCHIVE_BYTES, what="dSprites file")
    except FileReadError as exc:
        raise DatasetError(f"{where}: {exc.problem}") from None
    with handle:
        # Only a zip archive is handed to numpy: on anything else numpy would try
        # unpickling (refused) and advise allowing it.
        magic = handle.read(4)
        if magic == b"\x93NUM":
            raise DatasetError(f"{where}: a single .npy array, expected an .npz archive")
        if magic != b"PK\x03\x04":
            raise DatasetError(f"{where}: not a readable .npz archive (no zip header)")
        handle.seek(0)
        try:
            archive = np.load(handle, allow_pickle=False)
            return _read_archive(archive, where)
        except DatasetError:
            raise
        except Exception as exc:  # any unreadable content: report it as one line
            raise DatasetError(f"{where}: not a readable .npz archive ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """numpy's reason, except its advice to load pickles: they are never loaded."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "it holds Python objects, which are never loaded" if "pickle" in text else text


def _read_archive(archive: Any, where: str) -> np.ndarray:
    with archive:
        wanted = ("imgs", "latents_classes", "latents_values")
        missing = [key for key in wanted if key not in archive.files]
        if missing:
            raise DatasetError(
                f"{where}: missing key(s) {', '.join(missing)} "
                f"(found: {', '.join(archive.files) or 'none'})"
            )
        arrays = {}
        for key in wanted:
            try:
                arrays[key] = archive[key]
            except Exception as exc:  # e.g. an object array that needs pickle
                raise DatasetError(f"{where}: cannot read '{key}' ({_reason(exc)})") from None
    for key in ("latents_classes", "latents_values"):
        if arrays[key].shape != (NUM_IMAGES, 6):
            raise DatasetError(
                f"{where}: '{key}' has shape {arrays[key].shape}, expected ({NUM_IMAGES}, 6)"
            )
    expected = np.zeros((NUM_IMAGES, 6), dtype=np.int64)
    expected[:, 1:] = _index_to_factors(np.arange(NUM_IMAGES))
    if not np.array_equal(arrays["latents_classes"], expected):
        raise DatasetError(
            f"{where}: 'latents_classes' does not follow the official index order "
            "(row-major over color, shape, scale, orientation, x, y)"
        )
    return check_official_images(arrays["imgs"], where)


class DSprites(GroundTruthDataset):
    """dSprites with the five factors of disentanglement_lib.

    Parameters
    ----------
    images : ndarray of shape (737280, 64, 64), optional
        The official ``imgs`` array (0/1 pixels, official index order). Without it the
        images are rendered procedurally (see the module docstring).

    Notes
    -----
    Observations are float32 in {0, 1}, shape (n, 1, 64, 64). Rendering needs no disk
    cache: the 720 sprite windows are rasterised once per process, after which a batch
    of 4096 images is a gather and a copy (milliseconds), and the whole set takes seconds.

    Examples
    --------
    >>> data = DSprites()
    >>> factors, images = data.sample(16, random_state=0)
    >>> images.shape
    (16, 1, 64, 64)
    """

    name = "dsprites"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (1, IMAGE_SIZE, IMAGE_SIZE)

    def __init__(self, images: np.ndarray | None = None) -> None:
        self._images = None if images is None else check_official_images(images, "images")

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> DSprites:
        """The dataset backed by the official file (see :func:`load_official_npz`)."""
        return cls(images=load_official_npz(path))

    @property
    def procedural(self) -> bool:
        """True when images are rendered, False when they come from the official file."""
        return self._images is None

    def factors_to_index(self, factors: Any) -> np.ndarray:
        """Official image index of factor class indices, shape (n,) from (n, 5)."""
        return self.check_factors(factors) @ INDEX_BASES

    def index_to_factors(self, index: Any) -> np.ndarray:
        """Factor class indices of official image indices, shape (n, 5) from (n,)."""
        return _index_to_factors(_check_index(index))

    def images_at(self, index: Any) -> np.ndarray:
        """Binary images at official indices, uint8 in {0, 1}, shape (n, 64, 64) from (n,)."""
        index = _check_index(index).reshape(-1)
        if self._images is not None:
            return self._images[index]
        return render(_index_to_factors(index))

    def binary_images(self, factors: Any) -> np.ndarray:
        """Binary images for factor class indices, uint8 in {0, 1}, shape (n, 64, 64)."""
        factors = self.check_factors(factors)
        if self._images is not None:
            return self._images[factors @ INDEX_BASES]
        return render(factors)

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: Any = None
    ) -> np.ndarray:
        """Images for factor class indices, float32 in {0, 1}, shape (n, 1, 64, 64).

        dSprites is deterministic: ``random_state`` is accepted for the common interface.
        """
        return self.binary_images(factors)[:, None].astype(np.float32)
