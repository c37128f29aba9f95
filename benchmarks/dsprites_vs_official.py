"""How close the procedural dSprites is to the official file, for whoever has the file.

Run: ``python benchmarks/dsprites_vs_official.py PATH/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
[--samples 20000]``. Loads the official images (3 GB in memory), renders the same factors
procedurally and prints, per shape: the fraction of images identical pixel for pixel,
the fraction of identical pixels, intersection over union, area ratio (procedural /
official) and the mean centroid offset in pixels (procedural - official; x right, y
down). Orientation and position conventions show up as low IoU with a systematic offset;
sizes as an area ratio away from 1. Writes benchmarks/results/dsprites_vs_official.json
with the renderer version. Without the file, ``benchmarks/dsprites_fidelity.py`` measures
the match on official renders published with the dataset.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import save_result

from modelcentrality.datasets import RENDERER_VERSION, DSprites
from modelcentrality.datasets.dsprites import SHAPES


def centroids(images: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[:64, :64]
    mass = np.maximum(images.sum(axis=(1, 2)), 1)
    return np.stack(
        [(images * cols).sum(axis=(1, 2)) / mass, (images * rows).sum(axis=(1, 2)) / mass],
        axis=1,
    )


def compare(theirs: np.ndarray, ours: np.ndarray, shapes: np.ndarray) -> list[dict]:
    """Per-shape agreement of official and procedural binary images (n, 64, 64)."""
    theirs, ours = theirs.astype(bool), ours.astype(bool)
    same = (theirs == ours).mean(axis=(1, 2))
    union = (theirs | ours).sum(axis=(1, 2))
    iou = (theirs & ours).sum(axis=(1, 2)) / np.maximum(union, 1)
    area = ours.sum(axis=(1, 2)) / np.maximum(theirs.sum(axis=(1, 2)), 1)
    offset = centroids(ours) - centroids(theirs)
    rows = []
    for shape, name in enumerate(SHAPES):
        chosen = shapes == shape
        if not chosen.any():
            continue
        rows.append(
            {
                "shape": name,
                "images": int(chosen.sum()),
                "identical_images": float((same[chosen] == 1).mean()),
                "identical_pixels": float(same[chosen].mean()),
                "iou": float(iou[chosen].mean()),
                "area_ratio": float(area[chosen].mean()),
                "centroid_offset_px": offset[chosen].mean(axis=0).tolist(),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args(argv)

    official = DSprites.from_npz(args.path)
    procedural = DSprites()
    factors = procedural.sample_factors(args.samples, random_state=0)
    theirs = official.binary_images(factors)
    ours = procedural.binary_images(factors)
    rows = compare(theirs, ours, factors[:, 0])
    for row in rows:
        print(
            f"{row['shape']:8s} identical images {row['identical_images']:.3f}, pixels "
            f"{row['identical_pixels']:.5f}  IoU {row['iou']:.3f}  area ratio "
            f"{row['area_ratio']:.3f}  centroid offset x {row['centroid_offset_px'][0]:+.2f} "
            f"y {row['centroid_offset_px'][1]:+.2f}"
        )
    print(f"mean pixel: official {theirs.mean():.4f}, procedural {ours.mean():.4f}")
    payload = {
        "renderer_version": RENDERER_VERSION,
        "samples": args.samples,
        "rows": rows,
        "mean_pixel_official": float(theirs.mean()),
        "mean_pixel_procedural": float(ours.mean()),
    }
    save_result("dsprites_vs_official", payload)
    return payload


if __name__ == "__main__":
    main()
