"""Synthetic zoos with known, controlled entanglement (for tests, demos and benchmarks).

A fixed *world* renders K factors plus a few nuisance variables through an invertible
nonlinear map, ``x = sigmoid(W [f; n] + b)``. Model m has codes c ~ U(-1, 1)^K and noise
e ~ U(-1, 1); its generator renders ``f = A_m c`` and ``n = e``, and its encoder inverts
exactly: ``c = A_m^-1 (W^+ (logit(x) - b))[:K]``. ``A_m`` is a random signed permutation
times rotations by ``entanglement * 45 degrees`` in the planes of random factor pairs:
entanglement 0 is perfectly disentangled, 1 mixes each pair half and half. Different
models mix different pairs, so entangled models are each wrong in their own way.

The models are written as ONNX graphs with ``onnx.helper`` (no torch needed), in the
zoo folder format, and the world is also a ground-truth dataset for supervised scores.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._seeding import check_random_state
from ..contract import Model, Prior
from ..datasets.base import GroundTruthDataset
from ..errors import ParameterError
from ..io import ENCODER_FILE, FORMAT_VERSION, GENERATOR_FILE, METADATA_FILE

_EPS = 1e-6
_OPSET = 17


@dataclass(frozen=True)
class SyntheticWorld:
    """The fixed rendering map shared by all models of a synthetic zoo.

    Attributes
    ----------
    weights : ndarray of shape (P, K + n_nuisance)
    bias : ndarray of shape (P,)
    n_factors : int
    observation_shape : tuple of int (prod = P)
    """

    weights: np.ndarray
    bias: np.ndarray
    n_factors: int
    observation_shape: tuple[int, ...]

    @classmethod
    def make(
        cls,
        n_factors: int = 4,
        n_nuisance: int = 2,
        observation_shape: Sequence[int] = (1, 8, 8),
        random_state: Any = 0,
    ) -> SyntheticWorld:
        rng = check_random_state(random_state)
        size = int(np.prod(observation_shape))
        width = n_factors + n_nuisance
        if size < width:
            raise ParameterError(f"observations of size {size} cannot hold {width} variables")
        # Columns of comparable norm keep the sigmoid out of saturation for |inputs| <= 1.
        weights = rng.normal(0.0, 1.5 / np.sqrt(width), size=(size, width))
        bias = rng.normal(0.0, 0.3, size=size)
        return cls(weights, bias, int(n_factors), tuple(int(s) for s in observation_shape))

    @property
    def n_nuisance(self) -> int:
        return self.weights.shape[1] - self.n_factors

    def render(self, factors: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
        """Observations for factor values (n, K) and nuisance values (n, n_nuisance)."""
        hidden = np.concatenate([factors, nuisance], axis=1) @ self.weights.T + self.bias
        flat = 1.0 / (1.0 + np.exp(-hidden))
        return flat.reshape(len(flat), *self.observation_shape).astype(np.float32)


def mixing_matrix(n_factors: int, entanglement: float, random_state: Any = None) -> np.ndarray:
    """A_m: signed permutation times pairwise rotations of ``entanglement * 45`` degrees.

    Parameters
    ----------
    n_factors : int
    entanglement : float
        0: a signed permutation (disentangled); 1: rotations of 45 degrees.
    random_state : int, Generator or None

    Returns
    -------
    ndarray of shape (K, K), maps codes to world factors.
    """
    rng = check_random_state(random_state)
    angle = float(entanglement) * np.pi / 4
    order = rng.permutation(n_factors)
    rotation = np.eye(n_factors)
    for a, b in zip(order[0::2], order[1::2]):
        plane = np.eye(n_factors)
        plane[[a, a, b, b], [a, b, a, b]] = [
            np.cos(angle),
            -np.sin(angle),
            np.sin(angle),
            np.cos(angle),
        ]
        rotation = plane @ rotation
    signed_permutation = np.eye(n_factors)[rng.permutation(n_factors)]
    signed_permutation *= rng.choice([-1.0, 1.0], size=n_factors)[:, None]
    return rotation @ signed_permutation


def _tensor(name: str, values: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(values), name=name)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def write_synthetic_model(
    world: SyntheticWorld,
    mixing: np.ndarray,
    out_dir: str | os.PathLike,
    extra_metadata: dict[str, Any] | None = None,
) -> Path:
    """Write one synthetic model (generator, exact inverse encoder, model.json)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    k, n_nuisance = world.n_factors, world.n_nuisance
    latent_dim = k + n_nuisance
    size = world.weights.shape[0]
    embed = np.eye(latent_dim)
    embed[:k, :k] = mixing
    generator_weights = (world.weights @ embed).T.astype(np.float32)
    unmix = np.linalg.inv(mixing) @ np.linalg.pinv(world.weights)[:k]
    obs_dims = ["batch", *world.observation_shape]

    generator = helper.make_graph(
        [
            helper.make_node("MatMul", ["latents", "w"], ["hidden"]),
            helper.make_node("Add", ["hidden", "b"], ["pre"]),
            helper.make_node("Sigmoid", ["pre"], ["flat"]),
            helper.make_node("Reshape", ["flat", "shape"], ["observations"]),
        ],
        "synthetic_generator",
        [helper.make_tensor_value_info("latents", TensorProto.FLOAT, ["batch", latent_dim])],
        [helper.make_tensor_value_info("observations", TensorProto.FLOAT, obs_dims)],
        [
            _tensor("w", generator_weights),
            _tensor("b", world.bias.astype(np.float32)),
            _tensor("shape", np.array([-1, *world.observation_shape], dtype=np.int64)),
        ],
    )
    encoder = helper.make_graph(
        [
            helper.make_node("Reshape", ["observations", "flat_shape"], ["flat"]),
            helper.make_node("Clip", ["flat", "low", "high"], ["clipped"]),
            helper.make_node("Sub", ["one", "clipped"], ["complement"]),
            helper.make_node("Log", ["clipped"], ["log_x"]),
            helper.make_node("Log", ["complement"], ["log_complement"]),
            helper.make_node("Sub", ["log_x", "log_complement"], ["logit"]),
            helper.make_node("Sub", ["logit", "b"], ["hidden"]),
            helper.make_node("MatMul", ["hidden", "unmix"], ["codes"]),
        ],
        "synthetic_encoder",
        [helper.make_tensor_value_info("observations", TensorProto.FLOAT, obs_dims)],
        [helper.make_tensor_value_info("codes", TensorProto.FLOAT, ["batch", k])],
        [
            _tensor("flat_shape", np.array([-1, size], dtype=np.int64)),
            _tensor("low", np.array(_EPS, dtype=np.float32)),
            _tensor("high", np.array(1 - _EPS, dtype=np.float32)),
            _tensor("one", np.array(1.0, dtype=np.float32)),
            _tensor("b", world.bias.astype(np.float32)),
            _tensor("unmix", unmix.T.astype(np.float32)),
        ],
    )
    _save(generator, out_dir / GENERATOR_FILE)
    _save(encoder, out_dir / ENCODER_FILE)
    metadata = dict(extra_metadata or {})
    metadata.update(
        {
            "format": FORMAT_VERSION,
            "latent_dim": latent_dim,
            "code_dims": list(range(k)),
            "prior": {"type": "uniform", "low": -1.0, "high": 1.0},
            "kind": "gan",
        }
    )
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return out_dir


def make_synthetic_zoo(
    zoo_dir: str | os.PathLike,
    entanglements: Sequence[float] = (0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0),
    *,
    n_factors: int = 4,
    n_nuisance: int = 2,
    observation_shape: Sequence[int] = (1, 8, 8),
    random_state: Any = 0,
) -> SyntheticWorld:
    """Write a zoo with one model per entry of ``entanglements``.

    Models are named ``m00_e0.10`` etc.; each ``model.json`` records its entanglement.

    Returns
    -------
    SyntheticWorld
        The shared world (for ground truth, see :class:`SyntheticDataset`).
    """
    rng = check_random_state(random_state)
    world = SyntheticWorld.make(n_factors, n_nuisance, observation_shape, rng)
    zoo_dir = Path(zoo_dir)
    for index, entanglement in enumerate(entanglements):
        mixing = mixing_matrix(n_factors, entanglement, rng)
        write_synthetic_model(
            world,
            mixing,
            zoo_dir / f"m{index:02d}_e{entanglement:.2f}",
            {"synthetic": {"entanglement": float(entanglement)}},
        )
    return world


class SyntheticDataset(GroundTruthDataset):
    """The synthetic world as a ground-truth dataset: K factors on a grid in [-1, 1].

    Nuisance variables are drawn uniformly from [-1, 1] for every observation.
    """

    name = "synthetic"

    def __init__(self, world: SyntheticWorld, levels: int = 20) -> None:
        self.world = world
        self.levels = int(levels)
        self.factor_names = tuple(f"factor{k}" for k in range(world.n_factors))
        self.factor_sizes = (self.levels,) * world.n_factors
        self.observation_shape = world.observation_shape

    def sample_observations_from_factors(
        self, factors: np.ndarray, random_state: Any = None
    ) -> np.ndarray:
        rng = check_random_state(random_state)
        values = np.linspace(-1.0, 1.0, self.levels)[np.asarray(factors)]
        nuisance = rng.uniform(-1.0, 1.0, size=(len(values), self.world.n_nuisance))
        return self.world.render(values, nuisance)


class SyntheticModel(Model):
    """A synthetic model held in memory: the generator and exact inverse encoder of
    :func:`write_synthetic_model`, computed with numpy (no files, no ONNX Runtime).

    Cheap enough to build zoos of hundreds of models for tests and benchmarks of search
    strategies. It cannot travel to worker processes (use :func:`make_synthetic_zoo`
    for that).

    Parameters
    ----------
    name : str
    world : SyntheticWorld
    mixing : ndarray of shape (K, K)
        ``A_m``, see :func:`mixing_matrix`.
    entanglement : float
        Recorded for ground truth only.
    """

    def __init__(
        self, name: str, world: SyntheticWorld, mixing: np.ndarray, entanglement: float = 0.0
    ) -> None:
        k, n_nuisance = world.n_factors, world.n_nuisance
        super().__init__(
            name, k + n_nuisance, range(k), Prior("uniform"), "gan", world.observation_shape
        )
        self.entanglement = float(entanglement)
        embed = np.eye(k + n_nuisance)
        embed[:k, :k] = mixing
        self._generator_weights = (world.weights @ embed).T.astype(np.float32)
        self._bias = world.bias.astype(np.float32)
        self._unmix = (np.linalg.inv(mixing) @ np.linalg.pinv(world.weights)[:k]).T.astype(
            np.float32
        )

    def _generate_batch(self, latents: np.ndarray) -> np.ndarray:
        hidden = latents @ self._generator_weights + self._bias
        flat = 1.0 / (1.0 + np.exp(-hidden))
        return flat.reshape(len(flat), *self.observation_shape).astype(np.float32)

    def _encode_batch(
        self, observations: np.ndarray, want_logvar: bool
    ) -> tuple[np.ndarray, None]:
        flat = np.clip(observations.reshape(len(observations), -1), _EPS, 1 - _EPS)
        hidden = np.log(flat) - np.log1p(-flat) - self._bias
        return (hidden @ self._unmix).astype(np.float32), None

    def fingerprint(self) -> str:
        digest = hashlib.sha256(json.dumps(self.contract(), sort_keys=True).encode())
        for array in (self._generator_weights, self._bias, self._unmix):
            digest.update(array.tobytes())
        return digest.hexdigest()


def make_structured_zoo(
    n_models: int,
    *,
    medoid_entanglement: float = 0.0,
    entanglement_range: tuple[float, float] = (0.3, 1.0),
    n_factors: int = 6,
    n_nuisance: int = 2,
    observation_shape: Sequence[int] = (1, 4, 4),
    random_state: Any = 0,
) -> list[SyntheticModel]:
    """An in-memory zoo whose medoid is known by construction.

    One model (at a random position) has entanglement ``medoid_entanglement``; every
    other model draws its entanglement uniformly from ``entanglement_range``. With K = 6
    factors there are 15 ways to pair them into rotation planes, so two entangled
    models rarely share planes and agree less with each other than with the
    disentangled one: the disentangled model is the most central.

    Parameters
    ----------
    n_models : int
    medoid_entanglement : float
    entanglement_range : (float, float)
    n_factors, n_nuisance : int
    observation_shape : tuple of int
    random_state : int, Generator or None

    Returns
    -------
    list of SyntheticModel
        Named ``m0000_e0.00`` etc.; the designed medoid has the smallest
        ``entanglement``.
    """
    rng = check_random_state(random_state)
    world = SyntheticWorld.make(n_factors, n_nuisance, observation_shape, rng)
    low, high = entanglement_range
    entanglements = rng.uniform(low, high, size=n_models)
    entanglements[rng.integers(n_models)] = medoid_entanglement
    return [
        SyntheticModel(
            f"m{index:04d}_e{value:.2f}", world, mixing_matrix(n_factors, value, rng), value
        )
        for index, value in enumerate(entanglements)
    ]


#: Entanglements of the leaders of :func:`make_leader_zoo`, by kind of lead.
LEADERS = {"tied": (0.1, None), "distinct": (0.1, 0.1)}


def make_leader_zoo(
    leaders: str,
    n_others: int = 5,
    *,
    n_factors: int = 6,
    random_state: Any = 0,
) -> list[SyntheticModel]:
    """An in-memory zoo with two leaders: identical (exactly tied) or distinct.

    The leader has entanglement 0.1 and the ``n_others`` others 1.0, each mixing its own
    factor pairs (K = 6 factors give 15 ways to pair them), so the two leaders are the
    most central. The runner-up is, by ``leaders``: ``"tied"``, the leader itself under
    a second name (the same generator and encoder, so the two true centralities are
    equal); ``"distinct"``, another model of entanglement 0.1 mixing other pairs (how
    far apart the two are depends on ``random_state``).

    Returns
    -------
    list of SyntheticModel
        ``lead``, then ``twin`` (tied) or ``second`` (distinct), then ``other0``... .
    """
    if leaders not in LEADERS:
        raise ParameterError(f"leaders must be one of {sorted(LEADERS)}, got {leaders!r}")
    rng = check_random_state(random_state)
    world = SyntheticWorld.make(n_factors, 2, (1, 4, 4), rng)
    first, second = LEADERS[leaders]
    lead_mixing = mixing_matrix(n_factors, first, rng)
    models = [SyntheticModel("lead", world, lead_mixing, first)]
    if second is None:
        models.append(SyntheticModel("twin", world, lead_mixing, first))
    else:
        second_mixing = mixing_matrix(n_factors, second, rng)
        models.append(SyntheticModel("second", world, second_mixing, second))
    models += [
        SyntheticModel(f"other{index}", world, mixing_matrix(n_factors, 1.0, rng), 1.0)
        for index in range(n_others)
    ]
    return models
