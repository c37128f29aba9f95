"""Store a model's ONNX weights in float16 to halve its files; it still computes in float32.

Each float32 weight tensor (initializer) is replaced by its float16 copy followed by a
``Cast`` back to float32 under the original name, so every operator, input and output
keeps its float32 type and the model runs unchanged on any ONNX Runtime build; only the
weights are rounded (relative error at most 2^-11). ONNX Runtime folds the casts when it
loads the model, so inference is as fast as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._zoo_format import ENCODER_FILE, GENERATOR_FILE
from ..adapters.onnx_runtime import external_data_files
from ..errors import ModelError, ParameterError
from ._files import atomic_write
from ._zoo import check_links, model_folders

#: Tensors smaller than this stay float32: they save nothing and may be shapes or scales.
MIN_ELEMENTS = 16


def halve_graph_weights(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """A copy of ``model`` with its float32 weights stored as float16.

    Parameters
    ----------
    model : onnx.ModelProto

    Returns
    -------
    model : onnx.ModelProto
    converted : int
        Number of weight tensors converted (0: nothing to do, e.g. already converted).
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    graph_inputs = {value.name for value in graph.input}
    casts = []
    weights = []
    for tensor in graph.initializer:
        values = numpy_helper.to_array(tensor)
        # Initializers listed as graph inputs can be overridden by the caller in float32.
        if (
            tensor.data_type != TensorProto.FLOAT
            or values.size < MIN_ELEMENTS
            or tensor.name in graph_inputs
        ):
            weights.append(tensor)
            continue
        if not np.all(np.isfinite(values)) or np.abs(values).max() > np.finfo(np.float16).max:
            raise ParameterError(f"weight '{tensor.name}' does not fit in float16")
        stored = f"{tensor.name}__float16"
        weights.append(numpy_helper.from_array(values.astype(np.float16), stored))
        casts.append(helper.make_node("Cast", [stored], [tensor.name], to=TensorProto.FLOAT))
    del graph.initializer[:]
    graph.initializer.extend(weights)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return model, len(casts)


def _refuse_linked_folder(model_dir: Path) -> None:
    # Files written into a linked folder would land wherever the link points.
    if model_dir.is_symlink():
        raise ModelError(
            model_dir.name, f"{model_dir} is a symlink: cannot convert its files in place"
        )


def halve_model_files(
    model_dir: str | os.PathLike,
    *,
    follow_symlinks: bool = False,
    root: str | os.PathLike | None = None,
) -> int:
    """Convert a zoo model folder's encoder and generator in place (atomic writes).

    Nothing is ever written through a symlink: a model folder that is one is refused,
    and a file that is one is replaced by the converted file (its target is left as
    it was). Files that lead out of ``root`` (default: the model folder) are refused
    unless ``follow_symlinks``, as when loading. Models with external-data files are
    refused: their weights are not in the file this rewrites.

    Returns
    -------
    int
        Weight tensors converted over both files.

    Raises
    ------
    ModelError
        A file is missing, unreadable, not ONNX or fails the ONNX checker after
        conversion; the folder is left as it was for that file.
    """
    model_dir = Path(model_dir)
    _refuse_linked_folder(model_dir)
    check_links(model_dir, Path(root or model_dir), follow_symlinks=follow_symlinks)
    converted = 0
    for file_name in (ENCODER_FILE, GENERATOR_FILE):
        path = model_dir / file_name
        if not path.is_file():
            raise ModelError(model_dir.name, f"missing file {path}")
        try:
            # Never read external data here: its locations are checked just below.
            original = onnx.load(str(path), load_external_data=False)
            if external_data_files(model_dir.name, path, follow_symlinks=follow_symlinks):
                raise ModelError(
                    model_dir.name,
                    f"cannot convert {path}: its weights are in external data files, not in it",
                )
            halved, count = halve_graph_weights(original)
            onnx.checker.check_model(halved)
        except ModelError:
            raise
        except Exception as exc:  # onnx raises several unrelated types
            message = str(exc).strip().splitlines()
            raise ModelError(
                model_dir.name, f"cannot convert {path}: {message[0] if message else exc}"
            ) from None
        if count:
            data = halved.SerializeToString()
            atomic_write(path, lambda handle, data=data: handle.write(data))
        converted += count
    return converted


def halve_zoo(zoo_dir: str | os.PathLike, *, follow_symlinks: bool = False) -> dict[str, int]:
    """Convert every model folder of a zoo in place; {model name: tensors converted}.

    Every folder is checked (see :func:`halve_model_files`) before any file is written.
    """
    folders = model_folders(zoo_dir)
    for folder in folders:
        _refuse_linked_folder(folder)
        check_links(folder, Path(zoo_dir), follow_symlinks=follow_symlinks)
    return {
        folder.name: halve_model_files(folder, follow_symlinks=follow_symlinks, root=zoo_dir)
        for folder in folders
    }
