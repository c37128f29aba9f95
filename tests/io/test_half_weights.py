"""float16 weight storage: half the bytes, float32 interface, nearly the same outputs."""

import numpy as np
import onnx
import pytest

from modelcentrality import ModelError
from modelcentrality.cli import main
from modelcentrality.contract._model import Prior
from modelcentrality.io._half_weights import halve_graph_weights, halve_model_files, halve_zoo
from modelcentrality.io._zoo import load_model

NAME = "infogan_like"


@pytest.fixture
def trained_zoo(tmp_path):
    """One float32 model with the dSprites InfoGAN-CR architecture (random weights)."""
    torch = pytest.importorskip("torch")
    from modelcentrality.adapters.pytorch import export_model
    from modelcentrality.reference_models.networks import CodeEncoder, Discriminator, Generator

    torch.manual_seed(0)
    zoo = tmp_path / "zoo"
    export_model(
        CodeEncoder(Discriminator(5)),
        Generator(10),
        zoo / NAME,
        latent_dim=10,
        code_dims=range(5),
        prior=Prior("uniform"),
        kind="gan",
        observation_shape=(1, 64, 64),
    )
    return zoo


def _sizes(folder):
    return sum(path.stat().st_size for path in folder.glob("*.onnx"))


def test_halves_files_and_keeps_outputs(trained_zoo):
    folder = trained_zoo / NAME
    before = load_model(folder)
    latents = before.sample_prior(64, random_state=0)
    images = before.generate(latents)
    codes = before.encode(images)
    size = _sizes(folder)

    converted = halve_zoo(trained_zoo)
    assert converted[NAME] > 0
    assert _sizes(folder) < 0.55 * size
    after = load_model(folder)
    for path in folder.glob("*.onnx"):
        graph = onnx.load(str(path)).graph
        assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    new_images = after.generate(latents)
    assert new_images.dtype == np.float32
    # Rounding the weights to 11 significant bits moves outputs a little, not a lot.
    assert 0 < np.abs(new_images - images).max() < 0.05
    assert np.abs(after.encode(images) - codes).max() < 1e-3 * np.abs(codes).max() + 1e-3
    # Converting again finds nothing to convert and leaves the files as they are.
    stamp = [p.stat().st_mtime_ns for p in sorted(folder.glob("*.onnx"))]
    assert halve_model_files(folder) == 0
    assert [p.stat().st_mtime_ns for p in sorted(folder.glob("*.onnx"))] == stamp


def test_weights_out_of_range_are_refused():
    tensor = onnx.numpy_helper.from_array(np.full((4, 8), 1e6, np.float32), "w")
    node = onnx.helper.make_node("MatMul", ["x", "w"], ["y"])
    graph = onnx.helper.make_graph(
        [node],
        "g",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8])],
        [tensor],
    )
    with pytest.raises(ValueError, match="weight 'w' does not fit in float16"):
        halve_graph_weights(onnx.helper.make_model(graph))


def test_corrupt_file_is_one_line_and_untouched(trained_zoo, capsys):
    folder = trained_zoo / NAME
    (folder / "generator.onnx").write_bytes(b"not onnx")
    with pytest.raises(ModelError, match=r"cannot convert .*generator\.onnx"):
        halve_model_files(folder)
    assert (folder / "generator.onnx").read_bytes() == b"not onnx"
    assert main(["half-weights", str(trained_zoo)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "generator.onnx" in err


def test_cli_converts_a_zoo(trained_zoo, capsys):
    assert main(["half-weights", str(trained_zoo)]) == 0
    assert "weight tensors converted" in capsys.readouterr().out
    assert main(["half-weights", str(trained_zoo)]) == 0
    assert f"{NAME}: unchanged" in capsys.readouterr().out
