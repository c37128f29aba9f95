"""Peak memory of ranking zoos of 50, 100 and 200 small models.

Run: ``python benchmarks/memory.py``. Each size runs in a fresh subprocess (peak RSS is
per process) on a synthetic zoo of small ONNX models (observations 1x8x8), with a light
protocol (50 votes of 20 observations, S = 500) so that 200 models (40,000 pairs) finish
in minutes. Memory per pair does not depend on the protocol's size beyond one chunk of
4,096 observations, so what grows here is what grows with N.
Writes benchmarks/results/memory.json.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save_result

SIZES = (50, 100, 200)
SETTINGS = {"votes": 50, "group_size": 20, "scale_samples": 500}


def measure(n_models: int) -> dict:
    """Run in this process: make a zoo, rank it, report peak RSS and time."""
    import numpy as np

    from modelcentrality import load_zoo, rank
    from modelcentrality.testing._synthetic import make_synthetic_zoo

    with tempfile.TemporaryDirectory() as folder:
        entanglements = np.linspace(0.0, 1.0, n_models)
        make_synthetic_zoo(Path(folder) / "zoo", entanglements, random_state=0)
        zoo = load_zoo(Path(folder) / "zoo", threads=1)
        baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        result = rank(zoo, n_boot=50, progress=False, **SETTINGS)
        seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "models": n_models,
        "pairs": n_models**2,
        "encoder_passes": result.encoder_passes,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_before_ranking_mb": round(baseline_kb / 1024, 1),
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(measure(int(sys.argv[2]))))
        return
    rows = []
    for n_models in SIZES:
        output = subprocess.run(
            [sys.executable, __file__, "--one", str(n_models)],
            check=True, capture_output=True, text=True,
        ).stdout
        row = json.loads(output.strip().splitlines()[-1])
        rows.append(row)
        print(f"N={n_models:>4}: {row['seconds']:8.1f} s, peak RSS {row['peak_rss_mb']} MB "
              f"(before ranking {row['rss_before_ranking_mb']} MB)")
    path = save_result("memory", {"settings": SETTINGS, "rows": rows})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
