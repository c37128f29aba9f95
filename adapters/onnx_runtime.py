"""ONNX Runtime adapter: a model whose encoder and generator are ONNX files."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from ..contract import MixedPrior, Model, Prior
from ..errors import ModelError

DEFAULT_BATCH_SIZE = 1024


def _static_shape(shape: Sequence) -> tuple[int, ...] | None:
    """The non-batch dims of an ONNX value shape, or None if any of them is symbolic."""
    dims = list(shape)[1:]
    if all(isinstance(d, int) and d > 0 for d in dims):
        return tuple(dims)
    return None


def _describe(source: Path | bytes, role: str) -> str:
    return source.name if isinstance(source, Path) else f"the {role} (ONNX bytes)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


# Errors are raised as ModelError with the runtime's message; its own log lines on
# stderr (coloured, several per failure) would only repeat them.
ort.set_default_logger_severity(4)


def _graph_tensors(graph: onnx.GraphProto):
    """Every tensor a graph stores: initializers, sparse ones, attributes, subgraphs."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _graph_tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _graph_tensors(subgraph)


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in ``root`` once both are resolved (symlinks followed)."""
    real_root = os.path.realpath(root)
    return os.path.commonpath([os.path.realpath(path), real_root]) == real_root


def external_data_files(
    name: str, source: Path | bytes, *, role: str = "ONNX graph", follow_symlinks: bool = False
) -> list[Path]:
    """The external-data files an ONNX file reads, checked before any runtime opens it.

    Every location must be a relative path to a regular file inside the ONNX file's
    folder: no absolute path, no ``..``, and (unless ``follow_symlinks``) no symlink
    that resolves outside the folder. Graphs given as bytes have no folder, so they may
    not use external data at all.

    Returns
    -------
    list of Path
        The distinct files, sorted.

    Raises
    ------
    ModelError
        For a location that breaks these rules, or an unparsable file.
    """
    what = _describe(source, role)
    if isinstance(source, Path) and not source.is_file():
        if source.exists():
            target = f" (it leads to {os.path.realpath(source)})" if source.is_symlink() else ""
            raise ModelError(name, f"{source} is not a regular file{target}")
        raise ModelError(name, f"missing file {source}")
    try:
        if isinstance(source, bytes):
            proto = onnx.load_model_from_string(source)
        else:
            proto = onnx.load_model(str(source), load_external_data=False)
    except Exception as exc:  # protobuf and onnx raise several unrelated types
        raise ModelError(name, f"cannot load {what}: {_one_line(exc)}") from None
    locations = set()
    for tensor in _graph_tensors(proto.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        entries = {entry.key: entry.value for entry in tensor.external_data}
        locations.add(entries.get("location", ""))
    if not locations:
        return []
    if isinstance(source, bytes):
        raise ModelError(name, f"{what} uses external data files, which need its folder")
    folder = source.parent
    files = []
    for location in sorted(locations):
        parts = Path(location).parts
        if not location or Path(location).is_absolute() or ".." in parts:
            raise ModelError(
                name, f"{what} names external data {location!r} outside its model folder"
            )
        path = folder / location
        if not follow_symlinks and not inside(path, folder):
            raise ModelError(
                name,
                f"{what}'s external data {location!r} is a symlink out of its model folder "
                f"(to {os.path.realpath(path)}); pass --follow-symlinks to allow it",
            )
        if not path.is_file():
            raise ModelError(name, f"{what}'s external data file {path} is missing")
        files.append(path)
    return files


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


class OnnxModel(Model):
    """A model served by two ONNX Runtime sessions, created once and reused.

    Parameters
    ----------
    encoder_path, generator_path : path-like or bytes
        ONNX files, or their contents (a model rebuilt where the files are not reachable,
        e.g. on a Ray worker; the ``*_path`` attribute is then None). The encoder's first
        output is the code estimate (B, E); the generator maps (B, D) latents to
        (B, *observation_shape).
    name, latent_dim, code_dims, prior, kind :
        See :class:`~modelcentrality.contract.Model`.
    logvar_output : str, optional
        Name of the encoder output holding the posterior log-variance (VAEs).
    observation_shape : tuple of int, optional
        Needed only when the ONNX graphs leave the observation dims symbolic.
    batch_size : int
        Rows per ONNX Runtime call.
    threads : int, optional
        ONNX Runtime intra-op threads per session (default: ONNX Runtime's choice).
    follow_symlinks : bool
        Allow external-data files that are symlinks out of the model folder (see
        :func:`external_data_files`).
    device : {"cpu", "cuda", "cuda:N"}, optional
        "cuda" runs both sessions on onnxruntime-gpu's CUDA execution provider (inputs
        and outputs are host arrays, copied per call). Default: the CPU.
    """

    def __init__(
        self,
        encoder_path: str | os.PathLike | bytes,
        generator_path: str | os.PathLike | bytes,
        *,
        name: str,
        latent_dim: int,
        code_dims: Sequence[int],
        prior: Prior | MixedPrior,
        kind: str,
        logvar_output: str | None = None,
        observation_shape: Sequence[int] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        follow_symlinks: bool = False,
        device: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ModelError(name, f"batch size must be >= 1, got {batch_size}")
        encoder = encoder_path if isinstance(encoder_path, bytes) else Path(encoder_path)
        generator = generator_path if isinstance(generator_path, bytes) else Path(generator_path)
        self._sources = (encoder, generator)
        self.encoder_path = encoder if isinstance(encoder, Path) else None
        self.generator_path = generator if isinstance(generator, Path) else None
        self.batch_size = int(batch_size)
        self.follow_symlinks = bool(follow_symlinks)
        self._data_files = [
            external_data_files(name, source, role=role, follow_symlinks=self.follow_symlinks)
            for source, role in zip(self._sources, ("encoder", "generator"))
        ]
        self.device = None if device in (None, "cpu") else str(device)
        providers = self._providers(name, self.device)
        options = ort.SessionOptions()
        options.log_severity_level = 4
        # Spinning worker threads busy-wait between the many short calls of a ranking run.
        # On a 2-core machine with other work running, the 8-model demo zoo ranked in
        # 38.8 s with spinning and 3.9 s without (one thread: 3.4 s and 3.2 s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Each session's arena keeps its largest batch's buffers for good, and a ranking
        # holds one session per model: 6 dSprites-size models peaked at 7.8 GB RSS with
        # the arena and 0.9 GB without it, at the same speed (43.6 s vs 40.7 s).
        options.enable_cpu_mem_arena = False
        if threads is not None:
            # More threads than CPUs only slows down, and far more crashes the runtime.
            options.intra_op_num_threads = max(1, min(int(threads), os.cpu_count() or 1))
            options.inter_op_num_threads = 1
        self._encoder = self._open(name, encoder, "encoder", options, providers)
        self._generator = self._open(name, generator, "generator", options, providers)

        gen_in = self._generator.get_inputs()
        enc_in = self._encoder.get_inputs()
        if len(gen_in) != 1 or len(enc_in) != 1:
            raise ModelError(name, "encoder and generator must each take exactly one input")
        if not self._encoder.get_outputs() or not self._generator.get_outputs():
            raise ModelError(name, "encoder and generator must each have at least one output")
        gen_shape = list(gen_in[0].shape)
        if len(gen_shape) != 2 or (isinstance(gen_shape[1], int) and gen_shape[1] != latent_dim):
            raise ModelError(
                name,
                f"{_describe(generator, 'generator')} takes input of shape {gen_shape}, "
                f"expected [batch, {latent_dim}] (latent_dim in model.json)",
            )
        produced = _static_shape(self._generator.get_outputs()[0].shape)
        accepted = _static_shape(enc_in[0].shape)
        if produced and accepted and produced != accepted:
            raise ModelError(
                name,
                f"generator produces observations of shape {produced} but the encoder "
                f"takes {accepted}",
            )
        declared = tuple(observation_shape) if observation_shape is not None else None
        known = produced or accepted
        if declared and known and declared != known:
            raise ModelError(
                name, f"observation_shape {list(declared)} in model.json, ONNX files say {known}"
            )
        shape = known or declared
        if shape is None:
            raise ModelError(
                name,
                "the ONNX files leave the observation shape symbolic; "
                'add "observation_shape" to model.json',
            )
        output_names = [o.name for o in self._encoder.get_outputs()]
        if logvar_output is not None and logvar_output not in output_names:
            raise ModelError(
                name,
                f"logvar_output {logvar_output!r} is not an output of "
                f"{_describe(encoder, 'encoder')} (outputs: {output_names})",
            )
        self._encoder_outputs = [output_names[0]] + ([logvar_output] if logvar_output else [])
        self._encoder_input = enc_in[0].name
        self._generator_input = gen_in[0].name
        self.logvar_output = logvar_output
        self._fingerprint: str | None = None
        super().__init__(name, latent_dim, code_dims, prior, kind, shape)

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            digest = hashlib.sha256(json.dumps(self.contract(), sort_keys=True).encode())
            for content in self.onnx_bytes():
                digest.update(content)
            # Weights in external-data files change the model as much as its graph.
            for files in self._data_files:
                for path in files:
                    digest.update(path.name.encode())
                    digest.update(_file_digest(path))
            digest.update(str(self.logvar_output).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def to_spec(self, load: str | None = None, put=None) -> dict[str, Any]:
        """Files by absolute path (``load="path"``, the default for a model read from
        files) or the serialized graphs (``"bytes"``); see
        :meth:`~modelcentrality.contract.Model.to_spec`."""
        if load is None:
            load = "path" if self.encoder_path is not None else "bytes"
        if load == "path":
            if self.encoder_path is None or self.generator_path is None:
                raise ModelError(
                    self.name, "was built from ONNX bytes, not files: use load='bytes'"
                )
            files: Any = (str(self.encoder_path.resolve()), str(self.generator_path.resolve()))
            # Workers live for one job, in which the files do not change: their paths and
            # the contract identify the model without reading it here.
            key = json.dumps([files, self.contract()], sort_keys=True)
        else:
            try:
                contents = self.onnx_bytes()
            except OSError as exc:
                raise ModelError(self.name, f"cannot read its ONNX files: {exc}") from None
            files = contents if put is None else put(contents)
            key = self.fingerprint()
        return {
            "key": key,
            "contract": self.contract(),
            "logvar_output": self.logvar_output,
            "batch_size": self.batch_size,
            "load": load,
            "files": files,
            "follow_symlinks": self.follow_symlinks,
            "device": self.device,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], threads: int, resolve=None) -> OnnxModel:
        contract = spec["contract"]
        files = spec["files"]
        if spec["load"] == "bytes":
            if resolve is not None:
                files = resolve(files)
        else:
            missing = [path for path in files if not Path(path).is_file()]
            if missing:
                raise ModelError(
                    contract["name"],
                    f"missing file {missing[0]} on {socket.gethostname()}: load='path' needs "
                    f"the zoo at the same path on every worker (or use load='bytes')",
                )
        return cls(
            *files,
            **cls.contract_arguments(contract),
            logvar_output=spec["logvar_output"],
            batch_size=spec["batch_size"],
            threads=threads,
            follow_symlinks=spec.get("follow_symlinks", False),
            device=spec.get("device"),
        )

    def onnx_bytes(self) -> tuple[bytes, bytes]:
        """The serialized encoder and generator (read from their files when built from files)."""
        encoder, generator = (s if isinstance(s, bytes) else s.read_bytes() for s in self._sources)
        return encoder, generator

    @staticmethod
    def _providers(name: str, device: str | None) -> list:
        if device is None:
            return ["CPUExecutionProvider"]
        kind, _, index = device.partition(":")
        if kind != "cuda" or (index and not index.isdigit()):
            raise ModelError(name, f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError(
                name,
                f"CUDA is not available: this ONNX Runtime ({ort.__version__}) has no CUDA "
                f"execution provider (pip install onnxruntime-gpu)",
            )
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]

    @staticmethod
    def _open(
        name: str,
        source: Path | bytes,
        role: str,
        options: ort.SessionOptions,
        providers: list,
    ) -> ort.InferenceSession:
        model = source if isinstance(source, bytes) else str(source)
        try:
            return ort.InferenceSession(model, options, providers=providers)
        except Exception as exc:  # ONNX Runtime raises several unrelated types
            raise ModelError(
                name, f"cannot load {_describe(source, role)}: {_one_line(exc)}"
            ) from None

    def _run(self, session, input_name, outputs, values, what):
        results = []
        for start in range(0, len(values), self.batch_size):
            batch = values[start : start + self.batch_size]
            try:
                results.append(session.run(outputs, {input_name: batch}))
            except Exception as exc:
                raise ModelError(self.name, f"{what} failed: {_one_line(exc)}") from None
        return [
            np.concatenate([r[i] for r in results]).astype(np.float32, copy=False)
            for i in range(len(outputs) if outputs else 1)
        ]

    def _generate_batch(self, latents: np.ndarray) -> np.ndarray:
        return self._run(self._generator, self._generator_input, None, latents, "generator")[0]

    def _encode_batch(self, observations, want_logvar):
        outputs = self._encoder_outputs if want_logvar else self._encoder_outputs[:1]
        values = self._run(self._encoder, self._encoder_input, outputs, observations, "encoder")
        return values[0], (values[1] if len(values) > 1 else None)
