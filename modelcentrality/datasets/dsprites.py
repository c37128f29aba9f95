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

The official file cannot be downloaded here, so :class:`DSprites` renders the images
procedurally (renderer version :data:`RENDERER_VERSION`): same factors, same index order,
same binary image format, with a geometry fitted to official renders published with the
dataset and in public training repositories (``benchmarks/dsprites_fidelity.py`` measures
the match: per official tile, the best overlap with any rendered sprite). The rasteriser
is point sampling of implicit shape functions at pixel centres (no anti-aliasing).

Geometry, in pixels of the 64x64 image (pixel ``i`` spans ``[i, i + 1)``; sizes at scale
1, multiplied by the scale):

- the sprite centre sits at ``16 + 32 * position`` along each axis, so it moves by
  32/31 px per position step, from the corner between pixels 15 and 16 to the corner
  between pixels 47 and 48; x grows rightwards (columns), y downwards (rows);
- square: side :data:`SQUARE_SIDE`; ellipse: semi-axes :data:`ELLIPSE_SEMI_AXES`, the
  long one horizontal at orientation 0;
- heart, point down at orientation 0: two round lobes of radius ``lobe_radius`` centred
  ``lobe_offset`` left and right of the vertical axis and ``lobe_height`` above the
  sprite centre, joined to a point ``tip`` below the centre by straight sides tangent to
  the lobes, with a cleft between the lobes cut down to ``cleft`` above the centre with
  slopes ``cleft_slope`` (:data:`HEART`);
- orientation turns the sprite counter-clockwise as seen on screen, about its centre.

:meth:`DSprites.from_npz` reads ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` instead,
after checking its keys, shapes, pixel values and index order.
"""

from __future__ import annotations

import os
from typing import Any

import numba
import numpy as np

from ..io import FileReadError, open_regular
from .base import DatasetError, GroundTruthDataset

OFFICIAL_FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
#: The official archive is 26 MB; anything far bigger is not it.
MAX_ARCHIVE_BYTES = 1 << 30
NUM_IMAGES = 737_280
IMAGE_SIZE = 64
SHAPES = ("square", "ellipse", "heart")
FACTOR_NAMES = ("shape", "scale", "orientation", "position_x", "position_y")
FACTOR_SIZES = (3, 6, 40, 32, 32)

#: Version of the procedural images. Every output that carries ground truth records it
#: (with the dataset name) so that scores from different renderers are never mixed.
#: Version 1 (up to the bundled zoos' training) drew sprites of hand-chosen sizes on a
#: one-pixel position grid; version 2 matches the official renders.
RENDERER_VERSION = 2

#: Strides of the official index: row-major over (color=1, shape, scale, orientation, x, y).
INDEX_BASES = np.array([245_760, 40_960, 1_024, 32, 1], dtype=np.int64)

#: Square side at scale 1, in pixels.
SQUARE_SIDE = 19.2
#: Ellipse semi-axes at scale 1 (horizontal, vertical at orientation 0), in pixels.
ELLIPSE_SEMI_AXES = (12.76, 7.22)
#: Heart outline at scale 1, in pixels (see the module docstring).
HEART = {
    "lobe_offset": 4.14,
    "lobe_height": 3.94,
    "lobe_radius": 5.49,
    "tip": 8.74,
    "cleft": 6.17,
    "cleft_slope": 1.08,
}
#: Continuous image coordinate of the sprite centre at position 0 and at position 1.
POSITION_RANGE = (16.0, 48.0)

_WINDOW = 32


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


#: The scale factor's values (``factor_values()[1]``), built once: :func:`render` is hot.
_SCALES = factor_values()[1]
_SCALES.flags.writeable = False


def _heart_sides() -> tuple[float, float]:
    """Slope and upper end (height) of the heart's straight sides.

    Each side is the tangent from the tip ``(0, -tip)`` to the right lobe, touching it
    at the returned height; the side is ``v = slope * |u| - tip``.
    """
    centre = np.array([HEART["lobe_offset"], HEART["lobe_height"]])
    tip = np.array([0.0, -HEART["tip"]])
    radius = HEART["lobe_radius"]
    distance = np.linalg.norm(centre - tip)
    towards_tip = (tip - centre) / distance
    # The tangent point lies at angle arccos(r / d) from the direction to the tip; of
    # the two, the outer (right) one bounds the heart.
    turn = np.arccos(radius / distance)
    points = [
        centre
        + radius
        * np.array(
            [
                np.cos(sign * turn) * towards_tip[0] - np.sin(sign * turn) * towards_tip[1],
                np.sin(sign * turn) * towards_tip[0] + np.cos(sign * turn) * towards_tip[1],
            ]
        )
        for sign in (1.0, -1.0)
    ]
    touch = max(points, key=lambda point: point[0])
    return float((touch[1] + HEART["tip"]) / touch[0]), float(touch[1])


_HEART_SLOPE, _HEART_TOUCH = _heart_sides()


#: Shape parameters in the order the rasteriser reads them.
_PARAMETERS = np.array(
    [
        SQUARE_SIDE / 2,
        ELLIPSE_SEMI_AXES[0],
        ELLIPSE_SEMI_AXES[1],
        HEART["lobe_offset"],
        HEART["lobe_height"],
        HEART["lobe_radius"],
        HEART["tip"],
        HEART["cleft"],
        HEART["cleft_slope"],
        _HEART_SLOPE,
        _HEART_TOUCH,
    ]
)

#: Largest distance of a sprite pixel from the sprite centre at scale 1.
_REACH = max(
    SQUARE_SIDE / np.sqrt(2.0),
    *ELLIPSE_SEMI_AXES,
    np.hypot(HEART["lobe_offset"], HEART["lobe_height"]) + HEART["lobe_radius"],
    HEART["tip"],
)


@numba.njit(cache=True, nogil=True)
def _rasterise(shapes, rows, cols, u_row, u_col, v_row, v_col, margin, p, images):
    half_side, semi_u, semi_v = p[0], p[1], p[2]
    offset, height, radius, tip, cleft, cleft_slope, slope, touch = p[3:11]
    n, size = u_col.shape
    for i in range(n):
        shape = shapes[i]
        # Window pixels closer than ``margin`` to an edge lie beyond the sprite's reach.
        for r in range(margin[i], size - margin[i]):
            for c in range(margin[i], size - margin[i]):
                u = u_row[i, r] + u_col[i, c]
                v = v_row[i, r] + v_col[i, c]
                if shape == 0:
                    inside = max(abs(u), abs(v)) <= half_side
                elif shape == 1:
                    inside = (u / semi_u) * (u / semi_u) + (v / semi_v) * (v / semi_v) <= 1.0
                else:
                    side = abs(u)
                    lobe = (side - offset) * (side - offset) + (v - height) * (v - height)
                    inside = v <= cleft + cleft_slope * side and (
                        lobe <= radius * radius
                        or slope * side - tip <= v <= touch
                        # Between the lobe centres, above the tangent points, the
                        # lobes may leave a gap.
                        or (side <= offset and touch <= v <= height)
                    )
                if inside:
                    images[i, rows[i] + r, cols[i] + c] = 1


def _window_axis(position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First pixel of each sprite's window and its pixel centres relative to the sprite.

    Returns (origin (n,), offsets (n, 32)): window pixel ``j`` is image pixel
    ``origin + j`` and its centre lies ``offsets[:, j]`` pixels from the sprite centre.
    """
    low, high = POSITION_RANGE
    centre = low + (high - low) * position / (FACTOR_SIZES[3] - 1)
    origin = np.floor(centre).astype(np.int64) - _WINDOW // 2
    offsets = origin[:, None] + (np.arange(_WINDOW) + 0.5) - centre[:, None]
    return origin, offsets


def render(factors: np.ndarray) -> np.ndarray:
    """Procedural binary images for valid factor indices.

    Every sprite is point-sampled at the pixel centres of a 32x32 window around it
    (sprites reach at most 14 px from their centre, which is at least 15 px from the
    window's edges).

    Parameters
    ----------
    factors : ndarray of shape (n, 5), int
        Class indices, already validated.

    Returns
    -------
    ndarray of shape (n, 64, 64), uint8 in {0, 1}
    """
    factors = np.asarray(factors, dtype=np.int64)
    cols, dx = _window_axis(factors[:, 3].astype(np.float64))
    rows, dy = _window_axis(factors[:, 4].astype(np.float64))
    dy = -dy  # the shape frame's v points up on screen
    scale = _SCALES[factors[:, 1]]
    # Index 39 is 2 pi: reusing the angle of index 0 makes the two identical bit for bit.
    angle = 2.0 * np.pi * (factors[:, 2] % 39) / 39.0
    # Rotating the pixel grid by -angle turns the sprite by +angle (counter-clockwise);
    # u and v are sums of a per-row and a per-column term.
    cos = (np.cos(angle) / scale)[:, None]
    sin = (np.sin(angle) / scale)[:, None]
    # The window centre is within a pixel of the sprite centre.
    margin = np.maximum(_WINDOW // 2 - 2 - np.ceil(_REACH * scale).astype(np.int64), 0)
    images = np.zeros((len(factors), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    _rasterise(
        np.ascontiguousarray(factors[:, 0]),
        rows,
        cols,
        sin * dy,
        cos * dx,
        cos * dy,
        -sin * dx,
        margin,
        _PARAMETERS,
        images,
    )
    return images


def _check_index(index: Any) -> np.ndarray:
    array = np.asarray(index)
    if array.dtype.kind not in "iu":
        raise DatasetError(f"dsprites: indices must be integers, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= NUM_IMAGES):
        bad = array[(array < 0) | (array >= NUM_IMAGES)].flat[0]
        raise DatasetError(f"dsprites: indices must lie in [0, {NUM_IMAGES}), got {bad}")
    return array.astype(np.int64, copy=False)


def _index_to_factors(index: np.ndarray) -> np.ndarray:
    return (index[..., None] // INDEX_BASES) % np.asarray(FACTOR_SIZES)


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

    @property
    def ground_truth_version(self) -> str:
        """``"NAME/procedural-vN"`` (N = :data:`RENDERER_VERSION`) or ``"NAME/official-file"``."""
        if self.procedural:
            return f"{self.name}/procedural-v{RENDERER_VERSION}"
        return f"{self.name}/official-file"

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
