"""The model contract: what ModelCentrality needs from a generative model.

A model is a generator (latent vector -> observation), an encoder (observation -> code
estimate), a latent prior, and the list of latent dims that are interpretable codes.
Adapters (ONNX Runtime, PyTorch) subclass :class:`Model` and implement two batch methods;
the base class validates shapes and finiteness so every adapter fails the same clear way.

Two optional capabilities extend the contract, each with a default that works for every
model:

- **device arrays**: a model whose networks run on an accelerator reports its device
  (:meth:`Model.native_device`) and implements :meth:`Model._generate_native` and
  :meth:`Model._encode_native` on device tensors; the engine then keeps a rendered chunk
  on that device for every encoder that shares it (validated there too).
- **travel to workers**: :meth:`Model.to_spec` describes the model so that
  :meth:`Model.from_spec` of the same adapter rebuilds it in another process; the
  adapter is registered by name in :mod:`modelcentrality.execution`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._seeding import check_random_state
from ..errors import ModelError

KINDS = ("gan", "vae")
#: Largest latent_dim accepted: a scale set of the paper's 73,728 samples then holds
#: about 19 GB of float32 latents, far beyond any real generative model's needs.
MAX_LATENT_DIM = 65_536


@dataclass(frozen=True)
class Prior:
    """Factorised latent prior: every dim is U(low, high) or N(mean, std^2)."""

    type: Literal["uniform", "normal"]
    low: float = -1.0
    high: float = 1.0
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        if self.type not in ("uniform", "normal"):
            raise ValueError(f"prior type must be 'uniform' or 'normal', got {self.type!r}")
        if self.type == "uniform" and not self.low < self.high:
            raise ValueError(f"uniform prior needs low < high, got {self.low} and {self.high}")
        if self.type == "normal" and not self.std > 0:
            raise ValueError(f"normal prior needs std > 0, got {self.std}")

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw an array of the given shape (float32)."""
        if self.type == "uniform":
            out = rng.uniform(self.low, self.high, size=shape)
        else:
            out = rng.normal(self.mean, self.std, size=shape)
        return out.astype(np.float32)

    @classmethod
    def from_dict(cls, spec: Any) -> Prior:
        """Build from the model.json form, e.g. ``{"type": "uniform", "low": -1, "high": 1}``."""
        if not isinstance(spec, dict) or "type" not in spec:
            raise ValueError('prior must be an object with a "type" key')
        kind = spec["type"]
        keys = {"uniform": ("low", "high"), "normal": ("mean", "std")}.get(str(kind))
        if keys is None:
            raise ValueError(f"prior type must be 'uniform' or 'normal', got {kind!r}")
        unknown = set(spec) - {"type", *keys}
        if unknown:
            raise ValueError(f"unknown prior keys for {kind}: {sorted(unknown)}")
        values = {}
        for key in keys:
            if key in spec:
                value = spec[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, (int, float))
                    or not math.isfinite(value)
                ):
                    raise ValueError(f"prior {key} must be a finite number, got {value!r}")
                values[key] = float(value)
        return cls(type=kind, **values)

    def to_dict(self) -> dict[str, Any]:
        """The model.json form (see :meth:`from_dict`)."""
        if self.type == "uniform":
            return {"type": "uniform", "low": self.low, "high": self.high}
        return {"type": "normal", "mean": self.mean, "std": self.std}


class Model(ABC):
    """A generator/encoder pair with its latent prior.

    Subclasses implement :meth:`_encode_batch` and :meth:`_generate_batch`; callers use
    :meth:`encode`, :meth:`encode_with_logvar` and :meth:`generate`, which check shapes
    and reject NaN or inf with a :class:`~modelcentrality.errors.ModelError`.

    Parameters
    ----------
    name : str
        Identifier used in rankings and error messages.
    latent_dim : int
        D, the generator's input size.
    code_dims : sequence of int
        Indices (into the D latent dims) of the interpretable codes, the factors that
        ModelCentrality traverses. K = len(code_dims).
    prior : Prior
        Distribution of every latent dim.
    kind : {"gan", "vae"}
        Decides the paper protocol's vote count and UDR's informative-dim rule.
    observation_shape : tuple of int
        Shape of one observation (e.g. ``(1, 64, 64)``), generator output and encoder input.
    """

    def __init__(
        self,
        name: str,
        latent_dim: int,
        code_dims: Sequence[int],
        prior: Prior,
        kind: str,
        observation_shape: Sequence[int],
    ) -> None:
        self.name = str(name)
        if not 1 <= int(latent_dim) <= MAX_LATENT_DIM:
            raise ModelError(
                self.name, f"latent_dim must be in [1, {MAX_LATENT_DIM}], got {latent_dim}"
            )
        self.latent_dim = int(latent_dim)
        codes = tuple(int(c) for c in code_dims)
        if not codes:
            raise ModelError(self.name, "code_dims is empty")
        bad = [c for c in codes if not 0 <= c < self.latent_dim]
        if bad:
            raise ModelError(
                self.name, f"code_dims {bad} out of range for latent_dim {self.latent_dim}"
            )
        if len(set(codes)) != len(codes):
            raise ModelError(self.name, f"code_dims has duplicates: {list(codes)}")
        self.code_dims = codes
        if kind not in KINDS:
            raise ModelError(self.name, f"kind must be 'gan' or 'vae', got {kind!r}")
        self.kind = kind
        self.prior = prior
        self.observation_shape = tuple(int(s) for s in observation_shape)

    @property
    def n_codes(self) -> int:
        """K, the number of code dims."""
        return len(self.code_dims)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, kind={self.kind!r}, "
            f"latent_dim={self.latent_dim}, code_dims={list(self.code_dims)}, "
            f"observation_shape={self.observation_shape})"
        )

    def contract(self) -> dict[str, Any]:
        """The model's metadata as a JSON-friendly dict (everything but the weights)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "latent_dim": self.latent_dim,
            "code_dims": list(self.code_dims),
            "prior": self.prior.to_dict(),
            "observation_shape": list(self.observation_shape),
        }

    @staticmethod
    def contract_arguments(contract: dict[str, Any]) -> dict[str, Any]:
        """Constructor keyword arguments of every adapter, from :meth:`contract`'s output."""
        return {
            "name": contract["name"],
            "latent_dim": contract["latent_dim"],
            "code_dims": contract["code_dims"],
            "prior": Prior.from_dict(contract["prior"]),
            "kind": contract["kind"],
            "observation_shape": contract["observation_shape"],
        }

    def fingerprint(self) -> str | None:
        """Content hash of weights and contract, used as a cache key; None: not cacheable."""
        return None

    def to_spec(self, load: str = "path", put: Callable[[Any], Any] | None = None) -> dict:
        """What a worker process needs to rebuild this model (see :meth:`from_spec`).

        Parameters
        ----------
        load : {"path", "bytes"}
            ``"path"``: refer to files by absolute path (workers see the same
            filesystem); ``"bytes"``: carry the weights themselves.
        put : callable, optional
            Maps a large payload to a handle (e.g. ``ray.put``); the receiving side
            resolves it back before :meth:`from_spec`.

        Returns
        -------
        dict with at least ``"key"`` (identifies the model for a worker's cache) and
        ``"contract"`` (:meth:`contract`); the rest is the adapter's.
        """
        raise ModelError(
            self.name,
            f"a {type(self).__name__} cannot be sent to worker processes: use an adapter "
            f"that implements to_spec (ONNX, PyTorch) or run in this process",
        )

    @classmethod
    def from_spec(
        cls, spec: dict, threads: int, resolve: Callable[[Any], Any] | None = None
    ) -> Model:
        """Rebuild a model from :meth:`to_spec`'s output in a worker process."""
        raise NotImplementedError(f"{cls.__name__} does not implement from_spec")

    def native_device(self) -> str | None:
        """The device the networks run on (e.g. ``"cuda:0"``), or None for the host.

        Models that report the same device exchange device arrays through
        :meth:`generate_native` and :meth:`encode_native` without host copies.
        """
        return None

    def generate_native(self, latents: np.ndarray) -> Any:
        """Like :meth:`generate`, but the observations stay on :meth:`native_device`."""
        if self.native_device() is None:
            return self.generate(latents)
        latents = self._checked_latents(latents)
        return self._checked_observations(self._generate_native(latents), len(latents))

    def encode_native(self, observations: Any) -> Any:
        """Like :meth:`encode`, on observations that live on :meth:`native_device`."""
        if self.native_device() is None:
            return self.encode(observations)
        self._check_encoder_input(observations)
        return self._checked_codes(self._encode_native(observations), len(observations))

    def _generate_native(self, latents: np.ndarray) -> Any:
        """latents (B, D) float32 on the host -> observations on the device."""
        raise NotImplementedError

    def _encode_native(self, observations: Any) -> Any:
        """observations on the device -> codes (B, E) on the device."""
        raise NotImplementedError

    def sample_prior(self, n: int, random_state: Any = None) -> np.ndarray:
        """Draw ``n`` latent vectors, shape (n, D), float32."""
        return self.prior.sample((int(n), self.latent_dim), check_random_state(random_state))

    def generate(self, latents: np.ndarray) -> np.ndarray:
        """Map latents (B, D) to observations (B, *observation_shape), float32."""
        latents = self._checked_latents(latents)
        return self._checked_observations(self._generate_batch(latents), len(latents))

    def encode(self, observations: np.ndarray) -> np.ndarray:
        """Map observations (B, *observation_shape) to code estimates (B, E), float32."""
        return self.encode_with_logvar(observations, want_logvar=False)[0]

    def encode_with_logvar(
        self, observations: np.ndarray, want_logvar: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Encode and also return the log-variance output, when the model has one.

        Returns
        -------
        codes : ndarray of shape (B, E)
        logvar : ndarray of shape (B, E) or None
        """
        observations = np.ascontiguousarray(observations, dtype=np.float32)
        self._check_encoder_input(observations)
        codes, logvar = self._encode_batch(observations, want_logvar)
        codes = self._checked_codes(codes, len(observations))
        if logvar is not None:
            logvar = logvar.reshape(codes.shape[0], -1)
            if logvar.shape != codes.shape:
                raise ModelError(
                    self.name,
                    f"encoder log-variance has shape {logvar.shape}, codes {codes.shape}",
                )
            _check_finite(self.name, "encoder log-variance", logvar)
        return codes, logvar

    def _checked_latents(self, latents: np.ndarray) -> np.ndarray:
        latents = np.ascontiguousarray(latents, dtype=np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_dim:
            raise ModelError(
                self.name,
                f"generator expects latents of shape (B, {self.latent_dim}), got {latents.shape}",
            )
        return latents

    def _checked_observations(self, out: Any, n: int) -> Any:
        expected = (n, *self.observation_shape)
        if tuple(out.shape) != expected:
            raise ModelError(
                self.name, f"generator returned shape {tuple(out.shape)}, expected {expected}"
            )
        _check_finite(self.name, "generator", out)
        return out

    def _check_encoder_input(self, observations: Any) -> None:
        if tuple(observations.shape[1:]) != self.observation_shape:
            raise ModelError(
                self.name,
                f"encoder expects observations of shape {self.observation_shape}, "
                f"got {tuple(observations.shape[1:])}",
            )

    def _checked_codes(self, codes: Any, n: int) -> Any:
        codes = codes.reshape(codes.shape[0], -1)
        if codes.shape[0] != n:
            raise ModelError(self.name, f"encoder returned {codes.shape[0]} rows for {n} inputs")
        _check_finite(self.name, "encoder", codes)
        return codes

    @abstractmethod
    def _generate_batch(self, latents: np.ndarray) -> np.ndarray:
        """latents (B, D) float32 -> observations (B, *observation_shape) float32."""

    @abstractmethod
    def _encode_batch(
        self, observations: np.ndarray, want_logvar: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """observations (B, *observation_shape) -> (codes (B, E), logvar (B, E) or None)."""


def _check_finite(name: str, what: str, values: Any) -> None:
    """Raise unless every value is finite; device tensors are checked where they live
    (one reduction and a scalar copy, not a copy of the array)."""
    if isinstance(values, np.ndarray):
        bad = values.size - np.count_nonzero(np.isfinite(values))
    else:
        bad = int((~values.isfinite()).sum())
    if bad:
        raise ModelError(name, f"{what} produced {int(bad)} NaN/inf values")
