"""Colour and noise variants of dSprites, as defined in disentanglement_lib.

Both keep the five dSprites factors; the extra randomness (colour, noise) is a nuisance,
drawn from the ``random_state`` passed to ``sample_observations_from_factors``. Both can
be backed by the official file: ``ColorDSprites.from_npz(path)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import _dataset_rng
from .dsprites import IMAGE_SIZE, DSprites


class ColorDSprites(DSprites):
    """dSprites with the sprite in a random colour per image.

    Each RGB channel of the colour is uniform in [0.5, 1]; the background stays black.
    Observations: float32, shape (n, 3, 64, 64).
    """

    name = "color_dsprites"
    observation_shape = (3, IMAGE_SIZE, IMAGE_SIZE)

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: Any = None
    ) -> np.ndarray:
        rng = _dataset_rng(random_state)
        masks = self.binary_images(factors)
        colours = rng.uniform(0.5, 1.0, size=(len(masks), 3, 1, 1)).astype(np.float32)
        return masks[:, None].astype(np.float32) * colours


class NoisyDSprites(DSprites):
    """dSprites with a white sprite on uniform noise.

    Every background pixel and channel is uniform in [0, 1); sprite pixels are 1.
    Observations: float32, shape (n, 3, 64, 64).
    """

    name = "noisy_dsprites"
    observation_shape = (3, IMAGE_SIZE, IMAGE_SIZE)

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: Any = None
    ) -> np.ndarray:
        rng = _dataset_rng(random_state)
        masks = self.binary_images(factors)
        noise = rng.random((len(masks), 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
        # min(sprite + noise, 1) as in disentanglement_lib: noise < 1, sprite in {0, 1}.
        return np.maximum(noise, masks[:, None], out=noise)
