"""The model contract: what ModelCentrality needs from a generative model.

A model is a generator (latent vector -> observation), an encoder (observation -> code
estimate), a latent prior, and the list of latent dims that are interpretable codes.
The prior is one continuous distribution for every dim (:class:`Prior`) or a
:class:`MixedPrior`: consecutive parts of normal, uniform and categorical variables
(:class:`Categorical`, fed to the generator as a one-hot vector or a class index).
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
from typing import Any, ClassVar, Literal

import numpy as np

from .._seeding import check_random_state
from ..errors import ModelError, ParameterError

KINDS = ("gan", "vae")
#: Largest latent_dim accepted: a scale set of the paper's 73,728 samples then holds
#: about 19 GB of float32 latents, far beyond any real generative model's needs.
MAX_LATENT_DIM = 65_536


#: The parameters of each continuous prior type in model.json.
_CONTINUOUS_KEYS = {"uniform": ("low", "high"), "normal": ("mean", "std")}


def _is_finite_number(value: Any) -> bool:
    """Whether a JSON value is a number that fits a finite float (an integer too large
    for a float does not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class Prior:
    """Factorised latent prior: every dim is U(low, high) or N(mean, std^2).

    Inside a :class:`MixedPrior` it is the distribution of each dim of one part.
    """

    type: Literal["uniform", "normal"]
    low: float = -1.0
    high: float = 1.0
    mean: float = 0.0
    std: float = 1.0
    #: Latent dims one variable takes (see :class:`MixedPrior`).
    width: ClassVar[int] = 1

    def __post_init__(self) -> None:
        if self.type not in ("uniform", "normal"):
            raise ParameterError(f"prior type must be 'uniform' or 'normal', got {self.type!r}")
        if self.type == "uniform" and not self.low < self.high:
            raise ParameterError(f"uniform prior needs low < high, got {self.low} and {self.high}")
        if self.type == "normal" and not self.std > 0:
            raise ParameterError(f"normal prior needs std > 0, got {self.std}")

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw an array of the given shape (float32)."""
        if self.type == "uniform":
            out = rng.uniform(self.low, self.high, size=shape)
        else:
            out = rng.normal(self.mean, self.std, size=shape)
        return out.astype(np.float32)

    def variable(self, dim: int) -> tuple[Prior, int, int]:
        """``(distribution, first latent dim, width)`` of the variable at ``dim``: every
        dim is its own variable."""
        return self, int(dim), 1

    @classmethod
    def from_dict(cls, spec: Any) -> Prior | MixedPrior:
        """Build from the model.json form, e.g. ``{"type": "uniform", "low": -1, "high": 1}``.

        ``{"type": "mixed", "parts": [...]}`` gives a :class:`MixedPrior`.
        """
        if isinstance(spec, dict) and spec.get("type") == "mixed":
            return MixedPrior.from_dict(spec)
        return cls._from_dict(spec, ())

    @classmethod
    def _from_dict(cls, spec: Any, extra_keys: tuple[str, ...]) -> Prior:
        if not isinstance(spec, dict) or "type" not in spec:
            raise ParameterError('prior must be an object with a "type" key')
        kind = spec["type"]
        keys = _CONTINUOUS_KEYS.get(kind) if isinstance(kind, str) else None
        if keys is None:
            raise ParameterError(f"prior type must be 'uniform', 'normal' or 'mixed', got {kind!r}")
        unknown = set(spec) - {"type", *keys, *extra_keys}
        if unknown:
            raise ParameterError(f"unknown prior keys for {kind}: {sorted(unknown)}")
        values = {}
        for key in keys:
            if key in spec:
                value = spec[key]
                if not _is_finite_number(value):
                    raise ParameterError(f"prior {key} must be a finite number, got {value!r}")
                values[key] = float(value)
        return cls(type=kind, **values)

    def to_dict(self) -> dict[str, Any]:
        """The model.json form (see :meth:`from_dict`)."""
        if self.type == "uniform":
            return {"type": "uniform", "low": self.low, "high": self.high}
        return {"type": "normal", "mean": self.mean, "std": self.std}

    def describe(self) -> str:
        """E.g. ``uniform(-1, 1)`` or ``normal(0, 1)``."""
        if self.type == "uniform":
            return f"uniform({self.low:g}, {self.high:g})"
        return f"normal({self.mean:g}, {self.std:g})"


#: How a categorical variable reaches the generator.
ENCODINGS = ("one_hot", "index")


@dataclass(frozen=True)
class Categorical:
    """A latent variable uniform over ``n_classes`` classes.

    Parameters
    ----------
    n_classes : int
        At least 2, at most :data:`MAX_LATENT_DIM`.
    encoding : {"one_hot", "index"}
        What the generator receives: ``"one_hot"`` takes ``n_classes`` latent dims, one
        of them 1 and the others 0; ``"index"`` takes one latent dim holding the class
        number 0, 1, ..., ``n_classes - 1`` as a float.
    """

    n_classes: int
    encoding: Literal["one_hot", "index"] = "one_hot"
    type: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        classes = self.n_classes
        if (
            isinstance(classes, bool)
            or not isinstance(classes, (int, np.integer))
            or not 2 <= classes <= MAX_LATENT_DIM
        ):
            raise ParameterError(
                f"a categorical variable needs n_classes in [2, {MAX_LATENT_DIM}], got {classes!r}"
            )
        object.__setattr__(self, "n_classes", int(classes))
        if self.encoding not in ENCODINGS:
            raise ParameterError(
                f"categorical encoding must be 'one_hot' or 'index', got {self.encoding!r}"
            )

    @property
    def width(self) -> int:
        """Latent dims one variable takes."""
        return self.n_classes if self.encoding == "one_hot" else 1

    def sample_classes(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Uniform class numbers of the given shape (int64)."""
        return rng.integers(self.n_classes, size=shape)

    def encode(self, classes: Any) -> np.ndarray:
        """Generator input of class numbers: shape ``(*classes.shape, width)``, float32."""
        classes = np.asarray(classes, dtype=np.int64)[..., None]
        if self.encoding == "index":
            return classes.astype(np.float32)
        # Scattered ones, not rows of an identity matrix: that would hold n_classes^2 floats.
        out = np.zeros((*classes.shape[:-1], self.n_classes), dtype=np.float32)
        np.put_along_axis(out, classes, 1.0, axis=-1)
        return out

    def invalid_rows(self, block: np.ndarray) -> np.ndarray:
        """Which rows of generator input ``block`` (B, width) are not a class, (B,) bool."""
        if self.encoding == "index":
            values = block[:, 0]
            return (values != np.floor(values)) | (values < 0) | (values >= self.n_classes)
        binary = ((block == 0) | (block == 1)).all(axis=1)
        return ~binary | (block.sum(axis=1) != 1)

    def describe(self) -> str:
        """E.g. ``categorical(3, one_hot)``."""
        return f"categorical({self.n_classes}, {self.encoding})"

    def to_dict(self) -> dict[str, Any]:
        """The form of a part of a mixed prior in model.json (see :class:`MixedPrior`)."""
        return {"type": "categorical", "n_classes": self.n_classes, "encoding": self.encoding}

    @classmethod
    def _from_dict(cls, spec: dict[str, Any]) -> Categorical:
        unknown = set(spec) - {"type", "n_classes", "encoding", "count"}
        if unknown:
            raise ParameterError(f"unknown prior keys for categorical: {sorted(unknown)}")
        if "n_classes" not in spec:
            raise ParameterError('a categorical part needs "n_classes"')
        return cls(spec["n_classes"], spec.get("encoding", "one_hot"))


@dataclass(frozen=True)
class MixedPrior:
    """Latent dims split into consecutive parts with their own distributions.

    Each part is ``count`` independent variables of one distribution: a continuous
    :class:`Prior` (one latent dim per variable) or a :class:`Categorical` (``width``
    latent dims per variable). Parts follow each other along the latent vector, so
    the model's ``latent_dim`` must equal :attr:`latent_dim`. A code dim names a
    variable by its first latent dim; a vote on a categorical code holds the whole
    variable (its class) fixed.

    Parameters
    ----------
    parts : sequence of (Prior or Categorical, int) pairs, or of bare distributions
        ``(distribution, count)``; a bare distribution counts once.

    Examples
    --------
    A JointVAE with 10 normal dims and a 3-way one-hot latent (latent dims 10-12):

    >>> MixedPrior([(Prior("normal"), 10), Categorical(3)]).latent_dim
    13
    """

    parts: tuple[tuple[Prior | Categorical, int], ...]
    type: ClassVar[str] = "mixed"

    def __post_init__(self) -> None:
        parts, dims = [], 0
        if isinstance(self.parts, (str, bytes)) or not isinstance(self.parts, Sequence):
            raise ParameterError("a mixed prior's parts must be a list of (distribution, count)")
        for part in self.parts:
            pair = part if isinstance(part, (tuple, list)) else (part, 1)
            if len(pair) != 2:
                raise ParameterError(
                    f"a mixed prior's parts are (distribution, count) pairs, got {part!r}"
                )
            distribution, count = pair
            if not isinstance(distribution, (Prior, Categorical)):
                raise ParameterError(
                    f"a mixed prior's parts are Prior or Categorical, got {distribution!r}"
                )
            if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
                raise ParameterError(f"a part's count must be an integer >= 1, got {count!r}")
            parts.append((distribution, int(count)))
            # Checked part by part, before the per-variable tables below are built.
            dims += distribution.width * int(count)
            if dims > MAX_LATENT_DIM:
                raise ParameterError(
                    f"a mixed prior may cover at most {MAX_LATENT_DIM} latent dims, "
                    f"its parts take {dims} or more"
                )
        if not parts:
            raise ParameterError("a mixed prior needs at least one part")
        object.__setattr__(self, "parts", tuple(parts))
        starts, widths, start = [], [], 0
        for distribution, count in parts:
            starts.extend(range(start, start + count * distribution.width, distribution.width))
            widths.extend([distribution.width] * count)
            start += count * distribution.width
        object.__setattr__(self, "_starts", np.asarray(starts, dtype=np.int64))
        object.__setattr__(self, "_widths", np.asarray(widths, dtype=np.int64))
        object.__setattr__(
            self, "_distributions", [d for d, count in parts for _ in range(count)]
        )

    @property
    def latent_dim(self) -> int:
        """D, the latent dims the parts take together."""
        return int(self._widths.sum())

    @property
    def has_categorical(self) -> bool:
        """Whether a part is categorical."""
        return any(isinstance(d, Categorical) for d, _ in self.parts)

    def dim_variables(self) -> np.ndarray:
        """The variable each latent dim belongs to, shape (D,) int64."""
        return np.repeat(np.arange(len(self._starts)), self._widths)

    def variable(self, dim: int) -> tuple[Prior | Categorical, int, int]:
        """``(distribution, first latent dim, width)`` of the variable holding ``dim``."""
        index = int(np.searchsorted(self._starts, int(dim), side="right")) - 1
        return self._distributions[index], int(self._starts[index]), int(self._widths[index])

    def sample(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """Draw latent vectors: ``shape[-1]`` must be :attr:`latent_dim` (float32).

        Parts are drawn in order, each for every leading index at once.
        """
        shape = tuple(int(s) for s in shape)
        if not shape or shape[-1] != self.latent_dim:
            raise ParameterError(
                f"a mixed prior draws whole latent vectors of {self.latent_dim} dims, "
                f"not shape {shape}"
            )
        *lead, _ = shape
        out = np.empty(shape, dtype=np.float32)
        start = 0
        for distribution, count in self.parts:
            if isinstance(distribution, Categorical):
                classes = distribution.sample_classes((*lead, count), rng)
                block = distribution.encode(classes).reshape(*lead, count * distribution.width)
            else:
                block = distribution.sample((*lead, count), rng)
            out[..., start : start + block.shape[-1]] = block
            start += block.shape[-1]
        return out

    def invalid_latents(self, latents: np.ndarray) -> str | None:
        """Why generator input ``latents`` (B, D) is not a draw of this prior's
        categorical parts, or None when every categorical block holds a class."""
        start = 0
        for distribution, count in self.parts:
            width = distribution.width
            if isinstance(distribution, Categorical):
                block = latents[:, start : start + count * width].reshape(-1, width)
                bad = int(distribution.invalid_rows(block).sum())
                if bad:
                    end = start + count * width - 1
                    dims = f"dims {start}-{end}" if end > start else f"dim {start}"
                    what = (
                        "one-hot vectors"
                        if distribution.encoding == "one_hot"
                        else f"class indices in [0, {distribution.n_classes})"
                    )
                    return (
                        f"latent {dims} ({distribution.describe()}) must hold {what}: "
                        f"{bad} of {len(block)} do not"
                    )
            start += count * width
        return None

    def describe(self) -> str:
        """E.g. ``normal(0, 1) x10 + categorical(3, one_hot)``."""
        return " + ".join(
            d.describe() + (f" x{count}" if count > 1 else "") for d, count in self.parts
        )

    @classmethod
    def from_dict(cls, spec: Any) -> MixedPrior:
        """Build from ``{"type": "mixed", "parts": [{"type": ..., "count": n, ...}, ...]}``.

        A part is a continuous prior's form (see :meth:`Prior.from_dict`) or
        ``{"type": "categorical", "n_classes": K, "encoding": "one_hot" | "index"}``,
        each with an optional ``"count"`` (default 1).
        """
        if not isinstance(spec, dict) or set(spec) != {"type", "parts"}:
            raise ParameterError('a mixed prior is an object with exactly the keys "type", "parts"')
        if not isinstance(spec["parts"], list) or not 1 <= len(spec["parts"]) <= MAX_LATENT_DIM:
            raise ParameterError(
                f"a mixed prior's parts must be a list of 1 to {MAX_LATENT_DIM} parts"
            )
        parts = []
        for part in spec["parts"]:
            if not isinstance(part, dict) or "type" not in part:
                raise ParameterError('every part of a mixed prior must be an object with a "type"')
            if part["type"] not in ("normal", "uniform", "categorical"):
                raise ParameterError(
                    "a mixed prior's part type must be 'normal', 'uniform' or 'categorical', "
                    f"got {part['type']!r}"
                )
            count = part.get("count", 1)
            if part["type"] == "categorical":
                distribution: Prior | Categorical = Categorical._from_dict(part)
            else:
                distribution = Prior._from_dict(part, ("count",))
            parts.append((distribution, count))
        return cls(parts)

    def to_dict(self) -> dict[str, Any]:
        """The model.json form (see :meth:`from_dict`)."""
        return {
            "type": "mixed",
            "parts": [{**d.to_dict(), "count": count} for d, count in self.parts],
        }


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
    prior : Prior or MixedPrior
        Distribution of the latent dims: one :class:`Prior` for all, or a
        :class:`MixedPrior` covering exactly ``latent_dim`` dims, whose categorical
        variables are named in ``code_dims`` by their first latent dim.
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
        prior: Prior | MixedPrior,
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
        self.prior = checked_prior(self.name, prior, self.latent_dim, codes)
        self.observation_shape = tuple(int(s) for s in observation_shape)

    @property
    def logvar_covers_all(self) -> bool:
        """Whether a log-variance output must have one entry per encoder output.

        With a categorical latent (:class:`MixedPrior`) it may cover only the first
        encoder outputs (the continuous means): class probabilities have no variance.
        """
        return not (isinstance(self.prior, MixedPrior) and self.prior.has_categorical)

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
            With a categorical latent (see :attr:`logvar_covers_all`) the shape may be
            (B, E_c), E_c <= E: the log-variance of the first E_c codes.
        """
        observations = np.ascontiguousarray(observations, dtype=np.float32)
        self._check_encoder_input(observations)
        codes, logvar = self._encode_batch(observations, want_logvar)
        codes = self._checked_codes(codes, len(observations))
        if logvar is not None:
            logvar = logvar.reshape(codes.shape[0], -1)
            narrower = not self.logvar_covers_all and 1 <= logvar.shape[1] <= codes.shape[1]
            if logvar.shape != codes.shape and not narrower:
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
        if isinstance(self.prior, MixedPrior) and self.prior.has_categorical:
            problem = self.prior.invalid_latents(latents)
            if problem:
                raise ModelError(self.name, problem)
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


def checked_prior(
    name: str, prior: Any, latent_dim: int, code_dims: tuple[int, ...]
) -> Prior | MixedPrior:
    """``prior`` if it fits the latent dims and codes, else a ModelError naming the model.

    The one prior check of the contract: :class:`Model` runs it on construction, and the
    zoo reader and the exporters run it before any file is opened or written.

    Parameters
    ----------
    name : str
        The model's name, for the error.
    prior : Prior or MixedPrior
    latent_dim : int
        D, the length of the latent vector.
    code_dims : tuple of int
        The latent dims that are codes; a code inside a one-hot categorical must name its
        first dim.

    Raises
    ------
    ModelError
        ``prior`` is not a prior, or does not fit ``latent_dim`` and ``code_dims``.
    """
    if not isinstance(prior, (Prior, MixedPrior)):
        raise ModelError(name, f"prior must be a Prior or a MixedPrior, got {prior!r}")
    if isinstance(prior, MixedPrior):
        if prior.latent_dim != latent_dim:
            raise ModelError(
                name,
                f"the mixed prior ({prior.describe()}) covers {prior.latent_dim} latent dims, "
                f"latent_dim is {latent_dim}",
            )
        # Dims out of range are the code-dims check's to report.
        for dim in (d for d in code_dims if 0 <= d < latent_dim):
            distribution, start, width = prior.variable(dim)
            if start != dim:
                raise ModelError(
                    name,
                    f"code dim {dim} lies inside the {width}-dim one-hot categorical at "
                    f"latent dims {start}-{start + width - 1}; name it by its first dim {start}",
                )
    return prior


def _check_finite(name: str, what: str, values: Any) -> None:
    """Raise unless every value is finite; device tensors are checked where they live
    (one reduction and a scalar copy, not a copy of the array)."""
    if isinstance(values, np.ndarray):
        bad = values.size - np.count_nonzero(np.isfinite(values))
    else:
        bad = int((~values.isfinite()).sum())
    if bad:
        raise ModelError(name, f"{what} produced {int(bad)} NaN/inf values")
