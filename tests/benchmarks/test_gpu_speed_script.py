"""benchmarks/gpu_speed.py runs its device code path on the CPU (``--device cpu --tiny``)."""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_speed.py"


def test_gpu_speed_script_runs_on_cpu_with_tiny_sizes(tmp_path):
    command = [
        sys.executable,
        str(SCRIPT),
        "--device",
        "cpu",
        "--tiny",
        "--threads",
        "1",
        "--zoos",
        "infogan_cr",
        "--out",
        str(tmp_path),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    result = json.loads((tmp_path / "gpu_speed.json").read_text())
    assert result["device"] == "cpu" and not result["skipped"]
    assert [(r["models"], r["dtype"]) for r in result["vae"]] == [(2, "float32"), (2, "bfloat16")]
    for row in result["vae"]:
        assert row["encoder_passes"] == 4 * (2 * 10 + 100)
        assert 0 < row["fraction_of_bare_encoder"]
    assert set(result["projection_n50"]) == {"float32", "bfloat16"}
    zoo_rows = {r["dtype"]: r for r in result["zoos"]}
    assert {r["adapter"] for r in zoo_rows.values()} == {"OnnxTorchModel"}
    assert "vs_float32" in zoo_rows["bfloat16"]
