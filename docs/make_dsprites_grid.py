"""Draw docs/dsprites_samples.png: the procedural dSprites, one factor swept per row.

For each shape, three rows: scale 0..5 (then the two variants), orientation index
0, 5, ..., 35, and position x / y. Run: ``python docs/make_dsprites_grid.py [OUT.png]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from modelcentrality.datasets import ColorDSprites, DSprites, NoisyDSprites  # noqa: E402
from modelcentrality.datasets.dsprites import SHAPES  # noqa: E402

COLUMNS = 8


def sweeps(shape: int) -> list[tuple[str, np.ndarray]]:
    """(row label, factors (8, 5)) for the three rows of one shape."""
    centre = np.array([shape, 5, 0, 15, 15])
    scale = np.tile(centre, (COLUMNS, 1))
    scale[:6, 1] = np.arange(6)
    orientation = np.tile(centre, (COLUMNS, 1))
    orientation[:, 2] = np.arange(0, 40, 5)
    position = np.tile(centre, (COLUMNS, 1))
    position[:4, 3] = [0, 10, 21, 31]
    position[4:, 4] = [0, 10, 21, 31]
    return [
        ("scale 0-5, colour, noise", scale),
        ("orientation 0, 5, ..., 35", orientation),
        ("x 0,10,21,31 | y 0,10,21,31", position),
    ]


def main(out: Path) -> None:
    plain, colour, noisy = DSprites(), ColorDSprites(), NoisyDSprites()
    rows = [(SHAPES[shape], *row) for shape in range(3) for row in sweeps(shape)]
    fig, axes = plt.subplots(len(rows), COLUMNS, figsize=(COLUMNS * 1.1, len(rows) * 1.2))
    for r, (shape_name, label, factors) in enumerate(rows):
        images = np.repeat(plain.sample_observations_from_factors(factors), 3, axis=1)
        if label.startswith("scale"):
            images[6] = colour.sample_observations_from_factors(factors[6:7], 0)[0]
            images[7] = noisy.sample_observations_from_factors(factors[7:8], 0)[0]
        for c in range(COLUMNS):
            axis = axes[r, c]
            axis.imshow(images[c].transpose(1, 2, 0), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
        axes[r, 0].set_ylabel(f"{shape_name}\n{label}", fontsize=6)
    fig.suptitle("Procedural dSprites (64x64); one factor swept per row", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    default = Path(__file__).with_name("dsprites_samples.png")
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
