"""In-memory PyTorch twins of the synthetic zoo (imports torch: import on demand).

Each model is a linear generator followed by a sigmoid, and an encoder that inverts it
exactly for its own code dims, mixed by an entanglement matrix, as in
:func:`~modelcentrality.testing.make_synthetic_zoo`. Used to test the PyTorch adapter,
its device path and its travel to worker processes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..adapters.pytorch import TorchModel
from ..contract import Prior
from ._synthetic import SyntheticWorld, mixing_matrix


class LinearSigmoidGenerator(torch.nn.Module):
    """latents (B, D) -> sigmoid(latents @ weights + bias), reshaped to ``shape``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray, shape: Sequence[int]) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(weights.shape[0], weights.shape[1])
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(weights.T.astype(np.float32)))
            self.linear.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
        self.shape = tuple(shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(z)).reshape(-1, *self.shape)


class LogitUnmixEncoder(torch.nn.Module):
    """observations -> (logit(x) - bias) @ unmix: the inverse of the generator's codes."""

    def __init__(self, unmix: np.ndarray, bias: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("unmix", torch.from_numpy(unmix.astype(np.float32)))
        self.register_buffer("bias", torch.from_numpy(bias.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1).clamp(1e-6, 1 - 1e-6)
        return (torch.log(x) - torch.log1p(-x) - self.bias) @ self.unmix


def make_torch_zoo(
    entanglements: Sequence[float] = (0.1, 0.1, 1.0, 1.0),
    random_state: int = 5,
    *,
    device: str = "cpu",
    native: bool | None = None,
) -> list[TorchModel]:
    """One TorchModel per entanglement level (3 factors, 1 noise dim, 6x6 observations).

    Parameters
    ----------
    entanglements : sequence of float
        0 gives a perfectly disentangled model; 1 a fully mixed one.
    random_state : int
    device : str
    native : bool, optional
        Passed to :class:`~modelcentrality.adapters.pytorch.TorchModel`.

    Returns
    -------
    list of TorchModel, named ``torch0``, ``torch1``, ...
    """
    rng = np.random.default_rng(random_state)
    world = SyntheticWorld.make(3, 1, (1, 6, 6), rng)
    models = []
    for index, entanglement in enumerate(entanglements):
        mixing = mixing_matrix(3, entanglement, rng)
        embed = np.eye(4)
        embed[:3, :3] = mixing
        generator = LinearSigmoidGenerator(
            (world.weights @ embed).T, world.bias, world.observation_shape
        )
        unmix = (np.linalg.inv(mixing) @ np.linalg.pinv(world.weights)[:3]).T
        models.append(
            TorchModel(
                LogitUnmixEncoder(unmix, world.bias),
                generator,
                name=f"torch{index}",
                latent_dim=4,
                code_dims=[0, 1, 2],
                prior=Prior("uniform"),
                kind="gan",
                observation_shape=world.observation_shape,
                device=device,
                native=native,
            )
        )
    return models
