"""Wrap a PyTorch VAE or GAN written to a common convention as a :class:`TorchModel`.

Trained models rarely return exactly what the model contract asks for (codes, an
optional log-variance of the same shape, observations in [0, 1], channels first).
:func:`from_vae` and :func:`from_gan` put thin ``nn.Module`` wrappers around the user's
encoder and decoder (modules, methods of modules or plain functions) that translate the
common conventions; the wrappers are ordinary modules, so the result ranks in this
process, travels to worker processes and exports to ONNX like any :class:`TorchModel`.

Each convention is resolved once, on a few prior samples, when the model is wrapped:
an ambiguous or wrong choice fails there, with a hint, not in the middle of a ranking.

Categorical codes (a JointVAE's discrete latent, an InfoGAN's categorical code) come
with a :class:`~modelcentrality.contract.MixedPrior`: the encoder's categorical outputs
(logits or class probabilities) are matched, in latent order, to the prior's
categorical variables named in ``code_dims``, and a VAE's log-variance then covers the
continuous means only, so that UDR's KL filter reads only those.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import distributions, nn

from .._validation import check_choice, check_int
from ..contract import Categorical, MixedPrior, Prior, checked_prior
from ..errors import ModelError, ParameterError
from .pytorch import TorchModel, check_device

#: How a decoder's output becomes observations in [0, 1].
OUTPUTS = ("probs", "logits", "tanh", "clip")
#: How one encoder tensor holds the codes.
LAYOUTS = ("auto", "mean", "concat", "interleaved")
#: What each element of an encoder's tuple (or each named field) holds.
ROLES = ("mean", "logvar", "std", "logits", "probs", "skip")
#: Roles of a categorical code's outputs: logits (a softmax is applied) or probabilities.
CATEGORICAL_ROLES = ("logits", "probs")
#: Field names (attributes or keys) an encoder's output object is searched for, by role.
FIELD_NAMES = {
    "mean": ("embedding", "mean", "mu", "loc", "z_mean", "z_mu"),
    "logvar": ("log_covariance", "logvar", "log_var", "log_variance", "z_logvar"),
    "std": ("std", "scale", "sigma", "z_std"),
}
#: Field names of a decoder's output object that hold the reconstruction.
RECONSTRUCTION_NAMES = ("reconstruction", "recon", "x_recon", "x_hat", "mean")
#: Prior samples the conventions are resolved and checked on.
PROBE_SAMPLES = 8
#: Float rounding allowed around [0, 1] before probabilities count as out of range.
RANGE_SLACK = 1e-5


def _modules_used_by(function: Callable) -> list[nn.Module]:
    """The modules a plain function reaches directly: partial arguments, closure cells
    and the globals it names (methods count through their module)."""
    candidates: list[Any] = []
    if isinstance(function, functools.partial):
        candidates += [function.func, *function.args, *function.keywords.values()]
        function = function.func
    for cell in getattr(function, "__closure__", None) or ():
        try:
            candidates.append(cell.cell_contents)
        except ValueError:  # an empty cell: a name assigned after the function was made
            continue
    code = getattr(function, "__code__", None)
    if code is not None:
        candidates += [function.__globals__.get(name) for name in code.co_names]
    found: list[nn.Module] = []
    for value in candidates:
        value = getattr(value, "__self__", value)
        if isinstance(value, nn.Module) and all(value is not m for m in found):
            found.append(value)
    return found


class _Call(nn.Module):
    """Calls a module, a method of a module, or a plain function.

    The modules involved are registered as submodules, so that ``.to()``, ``.eval()``
    and the weights' fingerprint see them. A lambda or a nested function cannot be
    copied to worker processes; copying (``to_spec``) says so, naming the model.
    """

    def __init__(self, function: Callable, name: str, what: str) -> None:
        super().__init__()
        if not callable(function):
            raise ParameterError(
                f"the {what} must be an nn.Module or a callable, got {type(function).__name__}"
            )
        self.model_name = name
        self.what = what
        self.method: str | None = None
        self.function: Callable | None = None
        owner = getattr(function, "__self__", None)
        if isinstance(function, nn.Module):
            self.target = function
        elif isinstance(owner, nn.Module) and isinstance(function, types.MethodType):
            self.target = owner
            self.method = function.__name__
        else:
            self.function = function
            self.used = nn.ModuleList(_modules_used_by(function))

    def forward(self, x: torch.Tensor) -> Any:
        if self.function is not None:
            return self.function(x)
        if self.method is not None:
            return getattr(self.target, self.method)(x)
        return self.target(x)

    def __getstate__(self) -> dict[str, Any]:
        function = self.function
        if isinstance(function, types.FunctionType) and (
            "<lambda>" in function.__qualname__ or "<locals>" in function.__qualname__
        ):
            raise ModelError(
                self.model_name,
                f"the {self.what} is a lambda or nested function, which cannot be copied to "
                f"worker processes: pass the nn.Module or one of its methods (e.g. "
                f"vae.encode), or rank in this process",
            )
        return dict(self.__dict__)


@dataclass(frozen=True)
class EncoderLayout:
    """Where an encoder's output holds the codes, resolved once on prior samples.

    Attributes
    ----------
    kind : {"tensor", "sequence", "fields", "distribution", "joint"}
        ``"joint"``: a JointVAE's ``{"cont": [mean, logvar], "disc": [alpha, ...]}``.
    layout : {"mean", "concat", "interleaved"}
        For a tensor: codes only, [mean | logvar], or (mean, logvar) pairs.
    roles : tuple
        For a sequence: the role of each element (see :data:`ROLES`); for fields:
        ``(role, field name)`` pairs.
    index : int or None
        For a distribution inside a tuple (e.g. ``(posterior, prior)``): its position.
    """

    kind: str
    layout: str = "mean"
    roles: tuple = ()
    index: int | None = None


def _field(result: Any, key: str) -> Any:
    return result[key] if isinstance(result, Mapping) else getattr(result, key)


def _has_field(result: Any, key: str) -> bool:
    if isinstance(result, Mapping):
        return key in result
    return hasattr(result, key)


def _is_joint(result: Any) -> bool:
    """Whether ``result`` is a JointVAE posterior: a dict with ``"cont"`` (mean,
    log-variance) and/or ``"disc"`` (one tensor of class probabilities per variable)."""
    if not isinstance(result, Mapping) or not result or not set(result) <= {"cont", "disc"}:
        return False
    tensors = [*result.get("cont", ()), *result.get("disc", ())]
    return (
        all(isinstance(result[key], (tuple, list)) for key in result)
        and len(result.get("cont", (0, 0))) == 2
        and all(isinstance(t, torch.Tensor) for t in tensors)
    )


def _normal(value: Any) -> distributions.Normal | None:
    """The Normal inside ``value`` (also through ``Independent``), else None."""
    if isinstance(value, distributions.Independent):
        value = value.base_dist
    return value if isinstance(value, distributions.Normal) else None


def _encoder_parts(result: Any, layout: EncoderLayout) -> dict[str, list]:
    """Role -> tensors, from an encoder's raw output; ``"categorical"``: the
    ``(role, tensor)`` pairs of the logits and probabilities, in the output's order."""
    parts: dict[str, list] = {role: [] for role in (*ROLES, "categorical")}
    if layout.kind == "distribution":
        normal = _normal(result if layout.index is None else result[layout.index])
        parts["mean"].append(normal.loc)
        parts["std"].append(normal.scale)
    elif layout.kind == "tensor":
        flat = result.flatten(1)
        if layout.layout == "mean":
            parts["mean"].append(flat)
        elif layout.layout == "concat":
            half = flat.shape[1] // 2
            parts["mean"].append(flat[:, :half])
            parts["logvar"].append(flat[:, half:])
        else:
            parts["mean"].append(flat[:, 0::2])
            parts["logvar"].append(flat[:, 1::2])
    elif layout.kind == "joint":
        if "cont" in result:
            parts["mean"].append(result["cont"][0])
            parts["logvar"].append(result["cont"][1])
        for alpha in result.get("disc", ()):
            parts["probs"].append(alpha)
            parts["categorical"].append(("probs", alpha))
    elif layout.kind == "sequence":
        for role, value in zip(layout.roles, result):
            parts[role].append(value)
            if role in CATEGORICAL_ROLES:
                parts["categorical"].append((role, value))
    else:
        for role, key in layout.roles:
            parts[role].append(_field(result, key))
            if role in CATEGORICAL_ROLES:
                parts["categorical"].append((role, _field(result, key)))
    return parts


class ConventionEncoder(nn.Module):
    """An encoder that returns ``(codes, logvar)`` or ``(codes,)`` as the contract asks.

    ``codes`` is ``[mean | class probabilities per categorical code]`` (a softmax of
    logits, or the probabilities as given); ``logvar`` (when the encoder gives a
    log-variance or a standard deviation) covers the means only: with a categorical
    code the contract lets it stop before the class probabilities, which have no
    variance. Observations arrive as (B, *observation_shape) in [0, 1] and are handed
    to the wrapped encoder in its own layout and range.
    """

    def __init__(
        self,
        call: _Call,
        *,
        native_shape: Sequence[int],
        channels_last: bool,
        output: str,
    ) -> None:
        super().__init__()
        self.call = call
        self.native_shape = tuple(native_shape)
        self.channels_last = channels_last
        self.output = output
        self.layout: EncoderLayout | None = None
        #: Class counts each categorical output splits into (None: one code per output).
        self.splits: tuple[tuple[int, ...], ...] | None = None

    def native_input(self, x: torch.Tensor) -> torch.Tensor:
        """Observations in the contract's layout -> the wrapped encoder's input."""
        if self.output == "tanh":
            x = x * 2 - 1
        if self.channels_last:
            height, width, channels = self.native_shape
            return x.reshape(-1, channels, height, width).permute(0, 2, 3, 1)
        return x.reshape(-1, *self.native_shape)

    def forward(self, x: torch.Tensor):
        parts = _encoder_parts(self.call(self.native_input(x)), self.layout)
        means = [m.flatten(1) for m in parts["mean"]]
        categorical = []
        for index, (role, values) in enumerate(parts["categorical"]):
            values = values.flatten(1)
            pieces = values.split(self.splits[index], dim=1) if self.splits else [values]
            categorical += [torch.softmax(p, dim=1) if role == "logits" else p for p in pieces]
        codes = torch.cat(means + categorical, dim=1)
        spreads = [v.flatten(1) for v in parts["logvar"]]
        spreads += [2 * torch.log(s.flatten(1)) for s in parts["std"]]
        if not spreads:
            return (codes,)
        return codes, torch.cat(spreads, dim=1)


class ConventionGenerator(nn.Module):
    """A decoder or generator that returns observations in [0, 1], channels first."""

    def __init__(
        self,
        call: _Call,
        *,
        reading: tuple[str, Any],
        native_shape: Sequence[int],
        output: str,
        channels_last: bool,
        observation_shape: Sequence[int],
    ) -> None:
        super().__init__()
        self.call = call
        self.reading = reading
        self.native_shape = tuple(native_shape)
        self.output = output
        self.channels_last = channels_last
        self.observation_shape = tuple(observation_shape)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = _read_observations(self.call(z), self.reading)
        if self.output == "logits":
            x = torch.sigmoid(x)
        elif self.output == "tanh":
            x = (x + 1) / 2
        elif self.output == "clip":
            x = x.clamp(0, 1)
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return x.reshape(-1, *self.observation_shape)


def _read_observations(result: Any, reading: tuple[str, Any]) -> torch.Tensor:
    kind, detail = reading
    if kind == "field":
        return _field(result, detail)
    if kind == "first":
        return result[0]
    if kind == "distribution":
        base = result.base_dist if isinstance(result, distributions.Independent) else result
        return getattr(base, detail)
    return result


def _decoder_reading(result: Any, name: str) -> tuple[str, Any]:
    """How to find the observations in a decoder's output (see :func:`from_vae`)."""
    if isinstance(result, torch.Tensor):
        return ("tensor", None)
    if isinstance(result, distributions.Distribution):
        base = result.base_dist if isinstance(result, distributions.Independent) else result
        return ("distribution", "probs" if isinstance(base, distributions.Bernoulli) else "mean")
    if isinstance(result, (tuple, list)) and result and isinstance(result[0], torch.Tensor):
        return ("first", None)
    for key in RECONSTRUCTION_NAMES:
        if _has_field(result, key) and isinstance(_field(result, key), torch.Tensor):
            return ("field", key)
    raise ModelError(
        name,
        f"cannot find observations in the decoder's {type(result).__name__} output: return "
        f"a tensor, a distribution, or an object with a field among {RECONSTRUCTION_NAMES}",
    )


def _check_roles(roles: Sequence[str], where: str) -> None:
    for role in roles:
        check_choice(f"a role in {where}", role, ROLES)
    if not any(role in ("mean", *CATEGORICAL_ROLES) for role in roles):
        raise ParameterError(
            f"{where} must name a 'mean', 'logits' or 'probs' output, got {roles}"
        )
    if sum(role in ("logvar", "std") for role in roles) > 1:
        raise ParameterError(f"{where} names more than one 'logvar' or 'std' output: {roles}")


def _resolve_layout(
    result: Any, encoder_output: Any, kind: str, latent_dim: int, name: str
) -> EncoderLayout:
    """The :class:`EncoderLayout` of an encoder's output, or a one-line error with a hint."""
    if isinstance(encoder_output, Mapping):
        _check_roles(list(encoder_output), "encoder_output")
        if "skip" in encoder_output:
            raise ParameterError("encoder_output names fields by role; leave unused ones out")
        missing = [key for key in encoder_output.values() if not _has_field(result, key)]
        if missing:
            raise ModelError(
                name, f"the encoder's {type(result).__name__} output has no field {missing}"
            )
        return EncoderLayout("fields", roles=tuple(encoder_output.items()))
    if isinstance(result, torch.Tensor):
        if not isinstance(encoder_output, str):
            raise ModelError(
                name,
                f"encoder_output={encoder_output!r} names several outputs, but the encoder "
                f"returns one tensor: pass 'mean', 'concat' or 'interleaved'",
            )
        width = result.flatten(1).shape[1]
        if encoder_output == "auto":
            if kind == "vae" and width == 2 * latent_dim:
                raise ModelError(
                    name,
                    f"the encoder returns {width} = 2 x latent_dim values: is this "
                    f"[mean | logvar]? pass encoder_output='concat' (or 'interleaved' for "
                    f"(mean, logvar) pairs, or 'mean' if all {width} are codes)",
                )
            return EncoderLayout("tensor", layout="mean")
        if encoder_output != "mean" and width % 2:
            raise ModelError(
                name,
                f"encoder_output={encoder_output!r} needs an even number of values, "
                f"the encoder returns {width}",
            )
        return EncoderLayout("tensor", layout=encoder_output)
    if _normal(result) is not None:
        return EncoderLayout("distribution")
    if isinstance(result, (tuple, list)):
        if encoder_output == "auto" and result and _normal(result[0]) is not None:
            return EncoderLayout("distribution", index=0)
        if isinstance(encoder_output, str) and encoder_output != "auto":
            raise ModelError(
                name,
                f"encoder_output={encoder_output!r} describes one tensor, but the encoder "
                f"returns a tuple of {len(result)}: name the role of each, e.g. "
                f"('mean', 'logvar')",
            )
        roles = encoder_output
        if roles == "auto":
            if len(result) == 1 or (len(result) == 2 and kind == "vae"):
                roles = ("mean", "logvar")[: len(result)]
            else:
                raise ModelError(
                    name,
                    f"the encoder returns a tuple of {len(result)}: name the role of each with "
                    f"encoder_output, e.g. ('skip', 'mean', 'logits') for a discriminator "
                    f"returning (real/fake, continuous codes, categorical logits)",
                )
        roles = tuple(roles)
        _check_roles(roles, "encoder_output")
        if len(roles) != len(result):
            raise ModelError(
                name,
                f"encoder_output names {len(roles)} outputs, the encoder returns {len(result)}",
            )
        return EncoderLayout("sequence", roles=roles)
    if encoder_output == "auto" and _is_joint(result):
        return EncoderLayout("joint")
    if encoder_output != "auto":
        raise ModelError(
            name,
            f"the encoder returns a {type(result).__name__}: name its fields with "
            f"encoder_output={{'mean': ..., 'logvar': ...}}",
        )
    found = {}
    for role, keys in FIELD_NAMES.items():
        key = next((k for k in keys if _has_field(result, k)), None)
        if key is not None and _field(result, key) is not None:
            found[role] = key
    if "mean" not in found:
        raise ModelError(
            name,
            f"cannot find the codes in the encoder's {type(result).__name__} output: name "
            f"its fields with encoder_output={{'mean': ..., 'logvar': ...}}",
        )
    if "logvar" in found:
        found.pop("std", None)
    return EncoderLayout("fields", roles=tuple(found.items()))


def _looks_channels_last(shape: tuple[int, ...]) -> bool:
    """(H, W, C) with a colour count last and a larger size first."""
    return len(shape) == 3 and shape[2] in (1, 3, 4) and shape[0] > 4 and shape[1] > 4


def _check_probabilities(values: torch.Tensor, name: str, what: str) -> None:
    low, high = float(values.min()), float(values.max())
    if low >= -RANGE_SLACK and high <= 1 + RANGE_SLACK:
        return
    hint = "output='tanh'" if low >= -1 - RANGE_SLACK and high <= 1 + RANGE_SLACK else (
        "output='logits'"
    )
    raise ModelError(
        name,
        f"the {what} returns values in [{low:.3g}, {high:.3g}], outside [0, 1]: did you "
        f"mean {hint}? (output='clip' for a decoder trained with a squared error)",
    )


def _run(call: nn.Module, values: torch.Tensor, name: str, what: str) -> Any:
    try:
        return call(values)
    except ModelError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problem = f"the {what} fails on {len(values)} prior samples: {first}"
        raise ModelError(name, problem) from None


def _probe_generator(
    call: _Call,
    latents: torch.Tensor,
    *,
    name: str,
    what: str,
    output: str,
    channels_last: bool,
    observation_shape: Sequence[int] | None,
) -> ConventionGenerator:
    """The generator wrapper, its output convention resolved and checked on ``latents``."""
    raw = _run(call, latents, name, what)
    reading = _decoder_reading(raw, name)
    native = _read_observations(raw, reading)
    native_shape = tuple(native.shape[1:])
    if channels_last and native.ndim != 4:
        raise ModelError(
            name,
            f"channels_last needs (B, H, W, C) images, the {what} returns {tuple(native.shape)}",
        )
    if observation_shape is None:
        if not channels_last and _looks_channels_last(native_shape):
            raise ModelError(
                name,
                f"the {what} returns {native_shape} images: channels last? pass "
                f"channels_last=True (or observation_shape={native_shape} to keep them)",
            )
        observation_shape = native_shape
        if channels_last:
            height, width, channels = native_shape
            observation_shape = (channels, height, width)
    observation_shape = tuple(int(s) for s in observation_shape)
    if int(np.prod(observation_shape)) != int(np.prod(native_shape)):
        raise ModelError(
            name,
            f"the {what} returns {native_shape} per sample, which cannot be reshaped to "
            f"observation_shape {observation_shape}",
        )
    generator = ConventionGenerator(
        call,
        reading=reading,
        native_shape=native_shape,
        output=output,
        channels_last=channels_last,
        observation_shape=observation_shape,
    )
    if output == "probs":
        # "probs" leaves the values as read; reshaping keeps their range.
        _check_probabilities(native, name, what)
    return generator


def _categorical_variables(prior: Prior | MixedPrior) -> list[tuple[int, Categorical]]:
    """``(first latent dim, distribution)`` of each categorical variable, in latent order."""
    found: list[tuple[int, Categorical]] = []
    if isinstance(prior, MixedPrior):
        for start in _variable_starts(prior, prior.latent_dim):
            distribution = prior.variable(start)[0]
            if isinstance(distribution, Categorical):
                found.append((start, distribution))
    return found


def _variable_starts(prior: Prior | MixedPrior, latent_dim: int) -> list[int]:
    """The first latent dim of every variable: every dim for a :class:`Prior`."""
    if not isinstance(prior, MixedPrior):
        return list(range(latent_dim))
    variables = prior.dim_variables()
    return np.flatnonzero(np.diff(variables, prepend=-1)).tolist()


def _where(variables: Sequence[tuple[int, Categorical]]) -> str:
    """E.g. ``categorical(10) at latent dim 2``."""
    return ", ".join(f"categorical({d.n_classes}) at latent dim {s}" for s, d in variables)


def _class_counts(
    prior: Prior | MixedPrior,
    code_dims: Sequence[int],
    n_classes: Sequence[int] | None,
    name: str,
) -> tuple[int, ...] | None:
    """Class counts of the encoder's categorical codes, in latent order: the prior's
    categorical code variables, else ``n_classes`` (None: one code per output)."""
    codes = {int(c) for c in code_dims}
    coded = [(s, d) for s, d in _categorical_variables(prior) if s in codes]
    if not coded:
        return None if n_classes is None else tuple(n_classes)
    counts = tuple(d.n_classes for _, d in coded)
    if n_classes is not None and tuple(n_classes) != counts:
        raise ModelError(
            name,
            f"n_classes={list(n_classes)}, but the prior's categorical codes have "
            f"{list(counts)} classes ({_where(coded)}): leave n_classes out, it follows "
            f"the prior",
        )
    return counts


def _categorical_splits(
    widths: Sequence[int],
    counts: Sequence[int],
    prior: Prior | MixedPrior,
    code_dims: Sequence[int],
    name: str,
) -> tuple[tuple[int, ...], ...]:
    """How each categorical output (``widths`` columns) splits into consecutive codes of
    ``counts`` classes, or a ModelError naming the mismatch."""
    if sum(widths) != sum(counts):
        codes = {int(c) for c in code_dims}
        variables = _categorical_variables(prior)
        coded = [(s, d) for s, d in variables if s in codes]
        left_out = [(s, d) for s, d in variables if s not in codes]
        if not coded:
            raise ModelError(
                name,
                f"the encoder's categorical outputs have {sum(widths)} columns, but "
                f"n_classes={list(counts)} take {sum(counts)}",
            )
        problem = (
            f"the encoder's categorical outputs have {sum(widths)} columns, but the "
            f"prior's categorical codes ({_where(coded)}) take {sum(counts)}"
        )
        if left_out and sum(d.n_classes for _, d in variables) == sum(widths):
            missing = ", ".join(str(s) for s, _ in left_out)
            raise ModelError(name, f"{problem}: add latent dim {missing} to code_dims")
        raise ModelError(
            name, f"{problem}: does the encoder's head match the prior's n_classes?"
        )
    splits, remaining = [], list(counts)
    for width in widths:
        taken: list[int] = []
        while remaining and sum(taken) < width:
            taken.append(remaining.pop(0))
        if sum(taken) != width:
            raise ModelError(
                name,
                f"the encoder's categorical outputs have {list(widths)} columns, which do "
                f"not split into whole codes of {list(counts)} classes in order",
            )
        splits.append(tuple(taken))
    return tuple(splits)


def _probe_encoder(
    call: _Call,
    observations: torch.Tensor,
    generator: ConventionGenerator,
    *,
    name: str,
    kind: str,
    latent_dim: int,
    encoder_output: Any,
    prior: Prior | MixedPrior,
    code_dims: Sequence[int],
    n_classes: Sequence[int] | None,
) -> ConventionEncoder:
    """The encoder wrapper, its output layout resolved on the generator's ``observations``
    and its categorical outputs matched to the prior's categorical codes."""
    counts = _class_counts(prior, code_dims, n_classes, name)
    encoder = ConventionEncoder(
        call,
        native_shape=generator.native_shape,
        channels_last=generator.channels_last,
        output=generator.output,
    )
    raw = _run(call, encoder.native_input(observations), name, "encoder")
    encoder.layout = _resolve_layout(raw, encoder_output, kind, latent_dim, name)
    parts = _encoder_parts(raw, encoder.layout)
    categorical = parts["categorical"]
    if n_classes is not None and not categorical:
        raise ParameterError("n_classes splits categorical logits, but the encoder returns none")
    for role, values in categorical:
        low, high = float(values.min()), float(values.max())
        if role == "probs" and not (low >= -RANGE_SLACK and high <= 1 + RANGE_SLACK):
            raise ModelError(
                name,
                f"the encoder's 'probs' output holds values in [{low:.3g}, {high:.3g}], "
                f"not class probabilities: logits? name it 'logits' in encoder_output",
            )
    spreads = [*parts["logvar"], *parts["std"]]
    n_means = sum(m.flatten(1).shape[1] for m in parts["mean"])
    variables = _categorical_variables(prior)
    if categorical and spreads and not variables:
        k = categorical[0][1].flatten(1).shape[1]
        raise ModelError(
            name,
            f"the encoder returns categorical outputs beside a log-variance, but the prior "
            f"has no categorical variable: pass prior=MixedPrior([(Prior('normal'), "
            f"{n_means}), Categorical({k})]) (the layout the decoder reads)",
        )
    if categorical and counts is None and variables:
        missing = ", ".join(str(s) for s, _ in variables)
        raise ModelError(
            name,
            f"the encoder returns categorical outputs, but code_dims name none of the "
            f"prior's categorical variables ({_where(variables)}): add latent dim "
            f"{missing} to code_dims",
        )
    if categorical and counts is not None:
        widths = [int(values.flatten(1).shape[1]) for _, values in categorical]
        encoder.splits = _categorical_splits(widths, counts, prior, code_dims, name)
    if spreads:
        n_spread = sum(v.flatten(1).shape[1] for v in spreads)
        if n_spread != n_means:
            raise ModelError(
                name,
                f"the encoder's log-variance has {n_spread} entries per sample, its means "
                f"{n_means}: one per mean",
            )
    _run(encoder, observations, name, "encoder")
    return encoder


def _checked_layout(
    name: str,
    prior: Any,
    latent_dim: int | None,
    code_dims: Sequence[int] | None,
) -> tuple[int, list[int]]:
    """``latent_dim`` and ``code_dims`` checked against the prior before anything runs:
    a mixed prior gives the default latent_dim, and the default codes are its variables
    (a categorical variable named by its first latent dim)."""
    if not isinstance(prior, (Prior, MixedPrior)):
        raise ParameterError(f"prior must be a Prior or a MixedPrior, got {prior!r}")
    if latent_dim is None:
        if not isinstance(prior, MixedPrior):
            raise ParameterError("latent_dim is required unless the prior is a MixedPrior")
        latent_dim = prior.latent_dim
    latent_dim = check_int("latent_dim", latent_dim, minimum=1)
    if code_dims is None:
        code_dims = _variable_starts(prior, latent_dim)
    code_dims = [int(c) for c in code_dims]
    bad = [c for c in code_dims if not 0 <= c < latent_dim]
    if bad:
        raise ModelError(name, f"code_dims {bad} out of range for latent_dim {latent_dim}")
    checked_prior(name, prior, latent_dim, tuple(code_dims))
    return latent_dim, code_dims


def _wrap(
    encoder: nn.Module | Callable,
    decoder: nn.Module | Callable,
    *,
    kind: str,
    name: str,
    latent_dim: int | None,
    code_dims: Sequence[int] | None,
    prior: Prior | MixedPrior,
    encoder_output: Any,
    output: str,
    channels_last: bool,
    observation_shape: Sequence[int] | None,
    n_classes: Sequence[int] | None,
    device: str | torch.device,
    batch_size: int,
) -> TorchModel:
    what = "decoder" if kind == "vae" else "generator"
    latent_dim, code_dims = _checked_layout(name, prior, latent_dim, code_dims)
    check_choice("output", output, OUTPUTS)
    if isinstance(encoder_output, str):
        check_choice("encoder_output", encoder_output, LAYOUTS)
    if n_classes is not None:
        n_classes = [check_int("n_classes", k, minimum=2) for k in n_classes]
    device = check_device(device)
    latents = prior.sample((PROBE_SAMPLES, latent_dim), np.random.default_rng(0))
    latents = torch.from_numpy(latents).to(device)
    with torch.inference_mode():
        generator = _probe_generator(
            _Call(decoder, name, what).to(device).eval(),
            latents,
            name=name,
            what=what,
            output=output,
            channels_last=channels_last,
            observation_shape=observation_shape,
        )
        observations = generator(latents)
        encoder = _probe_encoder(
            _Call(encoder, name, "encoder").to(device).eval(),
            observations,
            generator,
            name=name,
            kind=kind,
            latent_dim=latent_dim,
            encoder_output=encoder_output,
            prior=prior,
            code_dims=code_dims,
            n_classes=n_classes,
        )
    model = TorchModel(
        encoder,
        generator,
        name=name,
        latent_dim=latent_dim,
        code_dims=code_dims,
        prior=prior,
        kind=kind,
        observation_shape=generator.observation_shape,
        device=device,
        batch_size=batch_size,
    )
    # The contract's own checks (log-variance shape, finite values) on the same samples.
    model.encode_with_logvar(observations.cpu().numpy())
    return model


def from_vae(
    encoder: nn.Module | Callable,
    decoder: nn.Module | Callable,
    *,
    name: str,
    latent_dim: int | None = None,
    code_dims: Sequence[int] | None = None,
    prior: Prior | MixedPrior | None = None,
    encoder_output: str | Sequence[str] | Mapping[str, str] = "auto",
    output: str = "probs",
    channels_last: bool = False,
    observation_shape: Sequence[int] | None = None,
    n_classes: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> TorchModel:
    """Wrap a trained VAE's encoder and decoder as a :class:`TorchModel`.

    Both are checked on a few prior samples here, so that a wrong convention fails now
    with a hint (a decoder returning values outside [0, 1]: "did you mean
    output='logits'?"; an encoder returning 2 x latent_dim values: "is this [mean |
    logvar]?").

    Parameters
    ----------
    encoder : nn.Module or callable
        observations -> the posterior, in one of these forms: a tuple ``(mean,
        logvar)``; one tensor of codes (B, latent_dim); one tensor ``[mean | logvar]``
        (``encoder_output="concat"``) or with (mean, logvar) pairs interleaved
        (``"interleaved"``); a ``torch.distributions.Normal`` (also inside
        ``Independent``, or first in a tuple such as ``(posterior, prior)``); an
        object or dict with fields such as ``embedding`` / ``log_covariance``
        (pythae), ``mu`` / ``logvar`` or ``loc`` / ``scale``; a JointVAE's dict
        ``{"cont": [mean, logvar], "disc": [class probabilities, ...]}``. A method of a module
        (``vae.encode``) is called as such.
    decoder : nn.Module or callable
        latents (B, latent_dim) -> images: a tensor, a distribution (a Bernoulli's
        ``probs``, else its ``mean``), an object or dict with a ``reconstruction``
        field, or a tuple whose first element is the images.
    name : str
        The model's name in rankings and error messages.
    latent_dim : int, optional
        D, the decoder's input size. Required unless ``prior`` is a
        :class:`~modelcentrality.contract.MixedPrior` (then its ``latent_dim``).
    code_dims : sequence of int, optional
        The latent dims that are codes (default: every variable of the prior; a
        categorical variable is named by its first latent dim).
    prior : Prior or MixedPrior, optional
        The latent prior (default: standard normal). A JointVAE's prior is a
        :class:`~modelcentrality.contract.MixedPrior` of normal and categorical parts,
        laid out as its decoder reads the latents.
    encoder_output : {"auto", "mean", "concat", "interleaved"}, tuple or dict
        How the encoder's output holds the codes. "auto" recognises tuples of one or
        two tensors, distributions and objects with known field names. A tuple names
        the role of each element of a tuple output, among "mean", "logvar", "std",
        "logits" (a categorical code's logits), "probs" (its class probabilities, e.g.
        a JointVAE's alphas) and "skip"; a dict maps roles to the field names of an
        object or dict output, e.g. ``{"mean": "z_mu", "std": "z_sigma"}``. The
        categorical outputs, in order, are the prior's categorical codes in latent
        order; their widths must be the classes' counts (checked).
    output : {"probs", "logits", "tanh", "clip"}
        What the decoder returns: probabilities in [0, 1] (checked); logits of a
        Bernoulli decoder (a sigmoid is applied); tanh images in [-1, 1] (mapped to [0,
        1], and back for the encoder); unbounded reconstructions of a squared-error
        decoder (clipped to [0, 1]).
    channels_last : bool
        The decoder returns (B, H, W, C) images and the encoder reads them: the model
        shows (C, H, W) observations, as the datasets and reports expect.
    observation_shape : sequence of int, optional
        The observations' shape when it differs from the decoder's (e.g. (1, 28, 28)
        for a decoder returning 784 values); the encoder gets the decoder's shape back.
    n_classes : sequence of int, optional
        Class counts that split one tensor of categorical logits into several codes.
        Default: the class counts of the prior's categorical codes (must match when
        given); with no categorical code in the prior, each categorical output is one
        code.
    device : str or torch.device
    batch_size : int
        Passed to :class:`TorchModel`.

    Returns
    -------
    TorchModel
        Encoder and generator are :class:`ConventionEncoder` and
        :class:`ConventionGenerator` modules: the model ranks, travels to worker
        processes (modules and methods of modules; not lambdas) and exports with
        :func:`~modelcentrality.adapters.pytorch.export_torch_model`.
    """
    return _wrap(
        encoder,
        decoder,
        kind="vae",
        name=name,
        latent_dim=latent_dim,
        code_dims=code_dims,
        prior=Prior("normal") if prior is None else prior,
        encoder_output=encoder_output,
        output=output,
        channels_last=channels_last,
        observation_shape=observation_shape,
        n_classes=n_classes,
        device=device,
        batch_size=batch_size,
    )


def from_gan(
    encoder: nn.Module | Callable,
    generator: nn.Module | Callable,
    *,
    code_dims: Sequence[int],
    prior: Prior | MixedPrior,
    name: str,
    latent_dim: int | None = None,
    encoder_output: str | Sequence[str] | Mapping[str, str] = "auto",
    output: str = "probs",
    channels_last: bool = False,
    observation_shape: Sequence[int] | None = None,
    n_classes: Sequence[int] | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 1024,
) -> TorchModel:
    """Wrap a trained GAN's generator and code encoder (an InfoGAN Q head) as a
    :class:`TorchModel`.

    Parameters
    ----------
    encoder : nn.Module or callable
        observations -> code estimates: one tensor (B, E), or a tuple whose elements'
        roles ``encoder_output`` names. An InfoGAN discriminator with a Q head that
        returns ``(real/fake logit, continuous codes, categorical logits)`` takes
        ``encoder_output=("skip", "mean", "logits")``; the model's codes are then
        ``[continuous | softmax(logits)]``. Categorical logits are matched to the
        prior's categorical codes (their widths must be the class counts).
    generator : nn.Module or callable
        latents (B, latent_dim), laid out as the prior draws them (codes, noise,
        categorical codes where the prior puts them) -> images; see :func:`from_vae`'s
        ``decoder`` for the accepted outputs.
    code_dims : sequence of int
        The latent dims that are codes (the others are noise); a categorical code is
        named by its first latent dim.
    prior : Prior or MixedPrior
        The latent prior the GAN was trained with, e.g. ``MixedPrior([(Prior("uniform"),
        2), Categorical(10), (Prior("uniform"), 62)])`` for continuous codes, a 10-way
        categorical code (one-hot) and noise, laid out as the generator reads them.
    name : str
    latent_dim : int, optional
        Required unless ``prior`` is a :class:`~modelcentrality.contract.MixedPrior`.
    encoder_output, output, channels_last, observation_shape, n_classes, device, batch_size
        See :func:`from_vae` (GAN generators often return tanh images:
        ``output="tanh"``).

    Returns
    -------
    TorchModel
    """
    return _wrap(
        encoder,
        generator,
        kind="gan",
        name=name,
        latent_dim=latent_dim,
        code_dims=code_dims,
        prior=prior,
        encoder_output=encoder_output,
        output=output,
        channels_last=channels_last,
        observation_shape=observation_shape,
        n_classes=n_classes,
        device=device,
        batch_size=batch_size,
    )
