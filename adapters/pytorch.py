"""PyTorch adapter: rank in-memory ``nn.Module`` pairs, and export them to a zoo folder.

This module imports torch; the rest of the package never does.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validation import check_float
from .._zoo_format import ENCODER_FILE, FORMAT_VERSION, GENERATOR_FILE, METADATA_FILE
from ..contract import MixedPrior, Model, Prior, checked_prior
from ..errors import ModelError, ParameterError

LOGVAR_OUTPUT = "logvar"

#: Names accepted for the encoders' compute precision (``dtype``).
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device, or a one-line error when it is not available here."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ParameterError(f"unknown device {device!r}: {exc}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(
                f"CUDA is not available: torch {torch.__version__} finds no CUDA device "
                f"(device={str(device)!r}); use device='cpu'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError(
                f"CUDA is not available: device {device} requested, "
                f"{torch.cuda.device_count()} CUDA device(s) found"
            )
    return device


def check_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """The encoders' compute dtype: float32 (None) or bfloat16."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    raise ParameterError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")


def _split_encoder_output(output: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(output, (tuple, list)):
        return output[0], (output[1] if len(output) > 1 else None)
    return output, None


class TorchModel(Model):
    """A model made of two ``torch.nn.Module`` objects, run in eval and inference mode.

    Parameters
    ----------
    encoder : nn.Module
        observations (B, *observation_shape) -> codes (B, E), or a tuple
        (codes, logvar) for VAEs.
    generator : nn.Module
        latents (B, D) -> observations (B, *observation_shape).
    name, latent_dim, code_dims, prior, kind, observation_shape :
        See :class:`~modelcentrality.contract.Model`.
    device : str or torch.device
        "cpu" or "cuda".
    batch_size : int
        Rows per forward pass.
    native : bool, optional
        Keep rendered observations on ``device`` when every model of a cross-evaluation
        shares it (:meth:`~modelcentrality.contract.Model.native_device`). Default: on
        for accelerators, off for the CPU, where the numpy path gives the same numbers
        as the ONNX models exported from these modules.
    dtype : {"float32", "bfloat16"}, optional
        Precision the encoder computes in (opt-in mixed precision: autocast, weights
        kept in float32). Codes come back as float32 and every vote statistic is
        reduced in float64, so only the encoder's own rounding changes. The generator
        always runs in float32.
    """

    def __init__(
        self,
        encoder: nn.Module,
        generator: nn.Module,
        *,
        name: str,
        latent_dim: int,
        code_dims: Sequence[int],
        prior: Prior | MixedPrior,
        kind: str,
        observation_shape: Sequence[int],
        device: str | torch.device = "cpu",
        batch_size: int = 1024,
        native: bool | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> None:
        super().__init__(name, latent_dim, code_dims, prior, kind, observation_shape)
        self.device = check_device(device)
        self.dtype = check_dtype(dtype)
        self.encoder = encoder.to(self.device).eval()
        self.generator = generator.to(self.device).eval()
        self.batch_size = int(batch_size)
        self.native = self.device.type != "cpu" if native is None else bool(native)

    def native_device(self) -> str | None:
        return str(self.device) if self.native else None

    def to_spec(self, load: str | None = None, put=None) -> dict[str, Any]:
        """The modules travel by value (on the CPU); ``load`` must be "bytes" or None."""
        if load == "path":
            raise ModelError(self.name, "an in-memory PyTorch model has no files: use load='bytes'")
        modules = tuple(copy.deepcopy(m).cpu() for m in (self.encoder, self.generator))
        return {
            "key": self.fingerprint(),
            "contract": self.contract(),
            "modules": modules if put is None else put(modules),
            "device": str(self.device),
            "batch_size": self.batch_size,
            "native": self.native,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], threads: int, resolve=None) -> TorchModel:
        modules = spec["modules"] if resolve is None else resolve(spec["modules"])
        torch.set_num_threads(int(threads))
        return cls(
            *modules,
            **cls.contract_arguments(spec["contract"]),
            device=spec["device"],
            batch_size=spec["batch_size"],
            native=spec["native"],
            dtype=spec.get("dtype"),
        )

    def _weights_stamp(self) -> tuple:
        """Identity and in-place version counter of every tensor in both state dicts.

        Any change to the weights (an optimiser step, ``load_state_dict``, ``.to()``)
        either bumps a tensor's version or swaps the tensor, so an unchanged stamp means
        unchanged weights, without reading them.
        """
        return tuple(
            (key, id(tensor), tensor._version)
            for module in (self.encoder, self.generator)
            for key, tensor in module.state_dict(keep_vars=True).items()
        )

    def fingerprint(self) -> str:
        stamp = (json.dumps(self.contract(), sort_keys=True), self._weights_stamp())
        if getattr(self, "_fingerprint_stamp", None) == stamp:
            return self._fingerprint
        digest = hashlib.sha256(stamp[0].encode())
        if self.dtype != torch.float32:
            # Codes computed in another precision are other results: another cache key.
            digest.update(str(self.dtype).encode())
        for module in (self.encoder, self.generator):
            digest.update(type(module).__qualname__.encode())
            for key, tensor in module.state_dict().items():
                digest.update(key.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        self._fingerprint = digest.hexdigest()
        self._fingerprint_stamp = stamp
        return self._fingerprint

    def _forward_device(self, module: nn.Module, values: torch.Tensor, what: str):
        """Batched forward pass; every output stays on the device, as float32."""
        outputs: list[list[torch.Tensor]] = []
        mixed = module is self.encoder and self.dtype != torch.float32
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=self.dtype, enabled=mixed),
        ):
            for start in range(0, len(values), self.batch_size):
                batch = values[start : start + self.batch_size].to(self.device)
                try:
                    result = module(batch)
                except Exception as exc:
                    raise ModelError(self.name, f"{what} failed: {exc}") from None
                parts = result if isinstance(result, (tuple, list)) else (result,)
                outputs.append([p.detach().float() for p in parts])
        if len(outputs) == 1:
            # One batch (a chunk within batch_size): no concatenation copy on the device.
            return outputs[0]
        return [torch.cat([o[i] for o in outputs]) for i in range(len(outputs[0]))]

    def _forward(self, module: nn.Module, values: np.ndarray, what: str) -> list[np.ndarray]:
        parts = self._forward_device(module, torch.from_numpy(values), what)
        return [p.cpu().numpy() for p in parts]

    def _generate_batch(self, latents: np.ndarray) -> np.ndarray:
        return self._forward(self.generator, latents, "generator")[0]

    def _encode_batch(self, observations, want_logvar):
        parts = self._forward(self.encoder, observations, "encoder")
        return parts[0], (parts[1] if want_logvar and len(parts) > 1 else None)

    def _generate_native(self, latents: np.ndarray) -> torch.Tensor:
        return self._forward_device(self.generator, torch.from_numpy(latents), "generator")[0]

    def _encode_native(self, observations: torch.Tensor) -> torch.Tensor:
        return self._forward_device(self.encoder, observations, "encoder")[0]


class _EncoderOutputs(nn.Module):
    """Normalises an encoder to return a tuple, so ONNX outputs get stable names."""

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor):
        codes, logvar = _split_encoder_output(self.encoder(x))
        codes = codes.reshape(codes.shape[0], -1)
        if logvar is None:
            return (codes,)
        return codes, logvar.reshape(logvar.shape[0], -1)


def _export(module: nn.Module, example: torch.Tensor, path: Path, inputs, outputs) -> None:
    axes = {name: {0: "batch"} for name in [*inputs, *outputs]}
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated upstream but needs no extra package
        # (the dynamo exporter requires onnxscript).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


#: Batch sizes on which :func:`export_model` compares the graphs with the modules: one
#: row, a few, and more than the two rows the graphs are traced with.
CHECK_BATCH_SIZES = (1, 3, 17)


def _check_close(
    name: str, file: str, output: str, size: int, expected, got, atol: float, rtol: float
) -> None:
    """Raise a ModelError unless ``got`` (ONNX) matches ``expected`` (torch)."""
    if got.shape != expected.shape:
        raise ModelError(
            name,
            f"the exported {file} returns '{output}' of shape {got.shape} on a batch of "
            f"{size}, the torch module {expected.shape}: a shape-dependent branch or "
            f"reshape was traced for one batch size",
        )
    close = np.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return
    difference = float(np.nanmax(np.where(close, 0.0, np.abs(got - expected))))
    raise ModelError(
        name,
        f"the exported {file} differs from the torch module: largest difference "
        f"{difference:.3g} in output '{output}' on a batch of {size} (atol {atol:g}, "
        f"rtol {rtol:g}): a branch on the batch's shape or values (traced for one input) "
        f"or a random draw in forward?",
    )


def _check_export(
    encoder: nn.Module,
    generator: nn.Module,
    folder: Path,
    latents: np.ndarray,
    outputs: list[str],
    name: str,
    atol: float,
    rtol: float,
) -> None:
    """Compare the exported graphs with the modules at every :data:`CHECK_BATCH_SIZES`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    sessions = {
        file: ort.InferenceSession(
            str(folder / file), options, providers=["CPUExecutionProvider"]
        )
        for file in (GENERATOR_FILE, ENCODER_FILE)
    }
    for size in CHECK_BATCH_SIZES:
        batch = torch.from_numpy(latents[:size])
        with torch.inference_mode():
            observations = generator(batch)
            codes = encoder(observations)
        checks = [
            (GENERATOR_FILE, "latents", batch, ["observations"], [observations]),
            (ENCODER_FILE, "observations", observations, outputs, list(codes)),
        ]
        for file, input_name, values, names, expected in checks:
            try:
                got = sessions[file].run(names, {input_name: values.numpy()})
            except Exception as exc:  # ONNX Runtime raises its own types, many lines long
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ModelError(
                    name, f"the exported {file} fails on a batch of {size}: {first}"
                ) from None
            for output, want, have in zip(names, expected, got):
                _check_close(name, file, output, size, want.numpy(), have, atol, rtol)


def export_model(
    encoder: nn.Module,
    generator: nn.Module,
    out_dir: str | os.PathLike,
    *,
    latent_dim: int,
    code_dims: Sequence[int],
    prior: Prior | MixedPrior,
    kind: str,
    observation_shape: Sequence[int],
    name: str | None = None,
    extra_metadata: dict[str, Any] | None = None,
    atol: float = 1e-4,
    rtol: float = 1e-3,
) -> Path:
    """Write a PyTorch encoder/generator pair as a zoo model folder, and check it.

    Writes ``encoder.onnx`` (outputs ``codes`` and, if the encoder returns a tuple,
    ``logvar``), ``generator.onnx`` (output ``observations``) and ``model.json``. The
    modules are exported on the CPU in eval mode.

    The export checks itself: the ONNX graphs are run (ONNX Runtime) on prior samples
    (with a :class:`~modelcentrality.contract.MixedPrior`, categorical dims hold drawn
    classes, as the generator reads them) at batch sizes :data:`CHECK_BATCH_SIZES`, the
    encoder on the generator's observations, and every output must match the torch
    modules' within ``atol + rtol * |torch value|``. Tracing records one path through
    the code, so a branch on the batch's shape or values, or an operator the exporter
    translates wrongly, is caught here: the graphs are removed and a ModelError names
    the largest difference.

    Parameters
    ----------
    encoder, generator : nn.Module
    out_dir : path-like
        The model folder to create (its name is the model's default name).
    latent_dim, code_dims, prior, kind, observation_shape :
        The model contract, recorded in model.json; ``prior`` is a
        :class:`~modelcentrality.contract.Prior` or a
        :class:`~modelcentrality.contract.MixedPrior`.
    name : str, optional
        Stored as "name" in model.json when it differs from the folder name.
    extra_metadata : dict, optional
        Extra JSON-serialisable keys for model.json (training settings, scores...).
    atol, rtol : float
        Tolerances of the check of the graphs against the modules.

    Returns
    -------
    Path of the model folder.

    Raises
    ------
    ModelError
        The prior does not fit ``latent_dim`` and ``code_dims``, the generator's output
        shape is not ``observation_shape``, or the exported graphs compute other values
        than the modules.
    """
    atol = check_float("atol", atol, minimum=0)
    rtol = check_float("rtol", rtol, minimum=0)
    out_dir = Path(out_dir)
    # Checked before anything is written: a mixed prior must cover latent_dim exactly
    # for its draws to be generator input.
    model_name = name or out_dir.name
    codes = tuple(int(c) for c in code_dims)
    checked_prior(model_name, prior, int(latent_dim), codes)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    encoder = _EncoderOutputs(encoder).cpu().eval()
    generator = generator.cpu().eval()
    latents = torch.from_numpy(prior.sample((2, latent_dim), np.random.default_rng(0)))
    with torch.inference_mode():
        observations = generator(latents)
        has_logvar = len(encoder(observations)) > 1
    if tuple(observations.shape[1:]) != tuple(observation_shape):
        raise ModelError(
            model_name,
            f"generator output shape {tuple(observations.shape[1:])} "
            f"!= observation_shape {tuple(observation_shape)}",
        )
    outputs = ["codes", LOGVAR_OUTPUT] if has_logvar else ["codes"]
    _export(encoder, observations.clone(), out_dir / ENCODER_FILE, ["observations"], outputs)
    _export(generator, latents, out_dir / GENERATOR_FILE, ["latents"], ["observations"])
    check_latents = prior.sample((max(CHECK_BATCH_SIZES), latent_dim), np.random.default_rng(1))
    try:
        _check_export(encoder, generator, out_dir, check_latents, outputs, model_name, atol, rtol)
    except ModelError:
        for file in (ENCODER_FILE, GENERATOR_FILE):
            (out_dir / file).unlink(missing_ok=True)
        if created and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise
    metadata: dict[str, Any] = dict(extra_metadata or {})
    metadata.update(
        {
            "format": FORMAT_VERSION,
            "latent_dim": int(latent_dim),
            "code_dims": list(codes),
            "prior": prior.to_dict(),
            "kind": kind,
            "observation_shape": [int(s) for s in observation_shape],
        }
    )
    if has_logvar:
        metadata["logvar_output"] = LOGVAR_OUTPUT
    if name is not None and name != out_dir.name:
        metadata["name"] = name
    (out_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    return out_dir


def export_torch_model(model: TorchModel, out_dir: str | os.PathLike, **kwargs: Any) -> Path:
    """Export a :class:`TorchModel` with its own contract; see :func:`export_model`."""
    return export_model(
        model.encoder,
        model.generator,
        out_dir,
        latent_dim=model.latent_dim,
        code_dims=model.code_dims,
        prior=model.prior,
        kind=model.kind,
        observation_shape=model.observation_shape,
        **kwargs,
    )
