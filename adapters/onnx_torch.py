"""ONNX graphs run through PyTorch: zoo folders on any device PyTorch drives (e.g. CUDA).

The encoder and generator graphs are converted to ``torch.nn.Module`` objects by
``onnx2torch`` (a maintained converter, ``pip install modelcentrality[gpu]``) and served
by the PyTorch adapter, so rendered chunks stay on the device for every encoder
(:meth:`~modelcentrality.contract.Model.native_device`) and ``dtype="bfloat16"`` works
as for any :class:`~modelcentrality.adapters.pytorch.TorchModel`.

Weights stored in float16 (``modelcentrality half-weights``) reach the graph through ``Cast``
nodes on initializers; they are folded into float32 weights before conversion, which
is what ONNX Runtime's constant folding computes as well.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import types
from typing import Any

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from ..errors import ModelError
from .onnx_runtime import OnnxModel, _one_line
from .pytorch import TorchModel


def _import_converter():
    """``onnx2torch.convert``, importable without a working torchvision.

    onnx2torch imports torchvision at module level for its two detection operators
    (NonMaxSuppression, RoiAlign) only; generator and encoder graphs use neither, and a
    torchvision build must match the installed torch exactly. When torchvision cannot
    be imported, a placeholder stands in during onnx2torch's import alone (it raises if
    one of those operators is ever run) and is removed again.
    """
    if importlib.util.find_spec("onnx2torch") is None:
        raise ModuleNotFoundError("onnx2torch")
    try:
        return importlib.import_module("onnx2torch").convert
    except Exception:  # a torchvision built for another torch fails in several ways
        pass
    for name in list(sys.modules):
        if name.partition(".")[0] in ("torchvision", "onnx2torch"):
            del sys.modules[name]

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("this ONNX operator needs a torchvision that matches torch")

    placeholder = types.ModuleType("torchvision")
    placeholder.ops = types.ModuleType("torchvision.ops")
    for op in ("nms", "roi_align", "box_convert"):
        setattr(placeholder.ops, op, unavailable)
    sys.modules.update({"torchvision": placeholder, "torchvision.ops": placeholder.ops})
    try:
        return importlib.import_module("onnx2torch").convert
    finally:
        for name in ("torchvision", "torchvision.ops"):
            sys.modules.pop(name, None)


def fold_weight_casts(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` where every ``Cast`` of an initializer is a cast initializer.

    Converters map a convolution's or a linear layer's weight input to module
    parameters only when it is an initializer, not the output of a node.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    overridable = {value.name for value in graph.input}
    kept, folded, used = [], [], set()
    for node in graph.node:
        source = node.input[0] if node.input else None
        if node.op_type == "Cast" and source in weights and source not in overridable:
            to = next(a.i for a in node.attribute if a.name == "to")
            values = numpy_helper.to_array(weights[source])
            dtype = helper.tensor_dtype_to_np_dtype(to)
            folded.append(numpy_helper.from_array(values.astype(dtype), node.output[0]))
            used.add(source)
        else:
            kept.append(node)
    if not folded:
        return model
    still_read = {name for node in kept for name in node.input}
    remaining = [t for t in graph.initializer if t.name not in used or t.name in still_read]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(remaining + folded)
    return model


def convert_graph(graph: onnx.ModelProto, name: str, role: str) -> nn.Module:
    """An ONNX graph (with its weights loaded) as an ``nn.Module`` in eval mode."""
    try:
        convert = _import_converter()
    except ModuleNotFoundError:
        raise ModelError(
            name,
            "running ONNX graphs through PyTorch needs onnx2torch: "
            "pip install 'modelcentrality[gpu]'",
        ) from None
    try:
        return convert(fold_weight_casts(graph)).eval()
    except Exception as exc:  # the converter raises several types for unsupported graphs
        raise ModelError(name, f"cannot convert the {role} to PyTorch: {_one_line(exc)}") from None


def _load_graphs(onnx_model: OnnxModel) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The encoder and generator graphs with their weights.

    Graphs read from files load their external data from their own folder (the
    locations the ONNX Runtime adapter validated when the model was built), never from
    the current directory; graphs given as bytes carry no external data.
    """
    paths = (onnx_model.encoder_path, onnx_model.generator_path)
    if None not in paths:
        return tuple(onnx.load(str(path)) for path in paths)
    return tuple(onnx.load_from_string(content) for content in onnx_model.onnx_bytes())


class _Outputs(nn.Module):
    """Selects the encoder outputs the engine reads: codes, then the log-variance."""

    def __init__(self, graph: nn.Module, indices: list[int]) -> None:
        super().__init__()
        self.graph = graph
        self.indices = indices

    def forward(self, x: torch.Tensor):
        result = self.graph(x)
        parts = result if isinstance(result, (tuple, list)) else (result,)
        return tuple(parts[i] for i in self.indices)


class OnnxTorchModel(TorchModel):
    """A zoo model (ONNX files) whose graphs run in PyTorch on ``device``.

    Build it with :meth:`from_onnx` (``load_model(..., device="cuda")`` does). It is a
    :class:`~modelcentrality.adapters.pytorch.TorchModel` in every other respect:
    ``device``, ``batch_size``, ``native`` and ``dtype`` mean the same there.

    Parameters
    ----------
    onnx_model : OnnxModel
        The same model under ONNX Runtime: its validated contract and graphs.
    device, batch_size, native, dtype :
        See :class:`~modelcentrality.adapters.pytorch.TorchModel`.
    """

    def __init__(
        self,
        onnx_model: OnnxModel,
        *,
        device: str | torch.device = "cpu",
        batch_size: int = 1024,
        native: bool | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> None:
        encoder_graph, generator_graph = _load_graphs(onnx_model)
        name = onnx_model.name
        encoder = convert_graph(encoder_graph, name, "encoder")
        outputs = [o.name for o in encoder_graph.graph.output]
        indices = [0]
        if onnx_model.logvar_output:
            indices.append(outputs.index(onnx_model.logvar_output))
        self.onnx_model = onnx_model
        super().__init__(
            _Outputs(encoder, indices),
            convert_graph(generator_graph, name, "generator"),
            name=name,
            latent_dim=onnx_model.latent_dim,
            code_dims=onnx_model.code_dims,
            prior=onnx_model.prior,
            kind=onnx_model.kind,
            observation_shape=onnx_model.observation_shape,
            device=device,
            batch_size=batch_size,
            native=native,
            dtype=dtype,
        )

    def fingerprint(self) -> str:
        """The ONNX files' content hash (every file they read) with this route and dtype:
        the converted modules' weights alone would miss changes to the graph itself."""
        route = f"{self.onnx_model.fingerprint()}|onnx_torch|{self.dtype}"
        return hashlib.sha256(route.encode()).hexdigest()

    def to_spec(self, load: str | None = None, put=None) -> dict[str, Any]:
        """The ONNX model's spec (files by path or bytes) plus the device settings;
        workers convert the graphs again."""
        spec = self.onnx_model.to_spec(load, put)
        return {
            "key": f"{spec['key']}|{self.device}|{self.dtype}|{self.native}",
            "contract": self.contract(),
            "onnx": spec,
            "device": str(self.device),
            "batch_size": self.batch_size,
            "native": self.native,
            "dtype": str(self.dtype).removeprefix("torch."),
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], threads: int, resolve=None) -> OnnxTorchModel:
        torch.set_num_threads(int(threads))
        return cls(
            OnnxModel.from_spec(spec["onnx"], threads, resolve),
            device=spec["device"],
            batch_size=spec["batch_size"],
            native=spec["native"],
            dtype=spec["dtype"],
        )
