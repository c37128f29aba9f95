"""How close the procedural dSprites is to the official file, for whoever has the file.

Run: ``python benchmarks/dsprites_vs_official.py PATH/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
[--samples 20000]``. Loads the official images (3 GB in memory), renders the same factors
procedurally and prints, per shape: intersection over union, area ratio (procedural /
official) and the mean centroid offset in pixels (procedural - official; x right, y down).
Orientation and position conventions show up as low IoU with a systematic offset; sizes
as an area ratio away from 1. Writes benchmarks/results/dsprites_vs_official.json.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import save_result

from modelcentrality.datasets import DSprites
from modelcentrality.datasets.dsprites import SHAPES


def centroids(images: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[:64, :64]
    mass = np.maximum(images.sum(axis=(1, 2)), 1)
    return np.stack(
        [(images * cols).sum(axis=(1, 2)) / mass, (images * rows).sum(axis=(1, 2)) / mass],
        axis=1,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args()

    official = DSprites.from_npz(args.path)
    procedural = DSprites()
    factors = procedural.sample_factors(args.samples, random_state=0)
    theirs = official.binary_images(factors).astype(bool)
    ours = procedural.binary_images(factors).astype(bool)
    union = (theirs | ours).sum(axis=(1, 2))
    iou = (theirs & ours).sum(axis=(1, 2)) / np.maximum(union, 1)
    area = ours.sum(axis=(1, 2)) / np.maximum(theirs.sum(axis=(1, 2)), 1)
    offset = centroids(ours) - centroids(theirs)

    rows = []
    for shape, name in enumerate(SHAPES):
        chosen = factors[:, 0] == shape
        rows.append(
            {
                "shape": name,
                "iou": float(iou[chosen].mean()),
                "area_ratio": float(area[chosen].mean()),
                "centroid_offset_px": offset[chosen].mean(axis=0).tolist(),
            }
        )
        print(
            f"{name:8s} IoU {rows[-1]['iou']:.3f}  area ratio {rows[-1]['area_ratio']:.3f}  "
            f"centroid offset x {offset[chosen, 0].mean():+.2f} y {offset[chosen, 1].mean():+.2f}"
        )
    print(f"mean pixel: official {theirs.mean():.4f}, procedural {ours.mean():.4f}")
    save_result(
        "dsprites_vs_official",
        {"samples": args.samples, "rows": rows, "mean_pixel_official": float(theirs.mean())},
    )


if __name__ == "__main__":
    main()
