"""How closely the procedural dSprites match official renders (no official file needed).

Run: ``python benchmarks/dsprites_fidelity.py``. Reads the official tiles in
benchmarks/data/dsprites_official_tiles.npz (sources in benchmarks/data/README.md) and
matches each to its closest procedural image (:func:`modelcentrality.datasets.match_official`).
Reports, per source and per shape, the mean and minimum best IoU; for the notebook's
grids drawn with a factor fixed (position x = 0, orientation index 5), the IoU at
exactly that value; the mean pixel value of the official tiles against the procedural
images of the same factors and of the whole set; and the pixel-density map of the whole
set against the notebook's (5,000 official samples; both scaled to [0, 1] as the
notebook shows them). Writes benchmarks/results/dsprites_fidelity.json and
docs/dsprites_fidelity.png (official tiles over their best matches).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from common import save_result

from modelcentrality.datasets import RENDERER_VERSION, DSprites, match_official
from modelcentrality.datasets.dsprites import NUM_IMAGES, SHAPES

DATA = Path(__file__).resolve().parent / "data" / "dsprites_official_tiles.npz"
FIGURE = Path(__file__).resolve().parent.parent / "docs" / "dsprites_fidelity.png"
SOURCES = ("disentangling_vae_samples", "notebook_random", "notebook_position_x_0",
           "notebook_orientation_5", "readme_gif")
KNOWN = {"notebook_position_x_0": {"position_x": 0}, "notebook_orientation_5": {"orientation": 5}}
CHUNK = 65_536


def summary(iou: np.ndarray, shapes: np.ndarray) -> dict:
    row = {"tiles": len(iou), "mean_iou": float(iou.mean()), "min_iou": float(iou.min())}
    for k, name in enumerate(SHAPES):
        chosen = shapes == k
        row[name] = {
            "tiles": int(chosen.sum()),
            "mean_iou": float(iou[chosen].mean()) if chosen.any() else None,
            "min_iou": float(iou[chosen].min()) if chosen.any() else None,
        }
    return row


def density(data: DSprites, factors: np.ndarray | None = None) -> np.ndarray:
    """Mean image of the given factors, or of the whole set."""
    total = np.zeros((64, 64))
    if factors is None:
        for first in range(0, NUM_IMAGES, CHUNK):
            total += data.images_at(np.arange(first, min(first + CHUNK, NUM_IMAGES))).sum(axis=0)
        return total / NUM_IMAGES
    return data.binary_images(factors).mean(axis=0)


def scaled(image: np.ndarray) -> np.ndarray:
    return (image - image.min()) / (image.max() - image.min())


def main() -> None:
    official = np.load(DATA)
    data = DSprites()
    start = time.perf_counter()
    rows, all_iou, all_shapes, all_tiles, all_matches = {}, [], [], [], []
    for source in SOURCES:
        tiles = official[source]
        iou, factors = match_official(tiles)
        rows[source] = summary(iou, factors[:, 0])
        if source in KNOWN:
            known_iou, known_factors = match_official(tiles, KNOWN[source])
            rows[source]["known_factor"] = {
                "fixed": KNOWN[source],
                **summary(known_iou, known_factors[:, 0]),
                "free_match_keeps_it": int(
                    (factors[:, 3] == 0).sum() if "position_x" in KNOWN[source]
                    else (factors[:, 2] == 5).sum()
                ),
            }
        rows[source]["mean_pixel_official"] = float(tiles.mean())
        rows[source]["mean_pixel_procedural_same_factors"] = float(
            data.binary_images(factors).mean()
        )
        if source != "readme_gif":  # the GIF is a traversal, not a sample of the set
            all_iou.append(iou)
            all_shapes.append(factors[:, 0])
            all_tiles.append(tiles)
            all_matches.append(data.binary_images(factors))
        print(f"{source:28s} {len(iou):4d} tiles: mean best IoU {iou.mean():.4f}, "
              f"min {iou.min():.3f}; " + ", ".join(
                  f"{name} {rows[source][name]['mean_iou'] or float('nan'):.4f}"
                  for name in SHAPES))
        if source in KNOWN:
            known = rows[source]["known_factor"]
            print(f"{'':28s} at {KNOWN[source]}: mean IoU {known['mean_iou']:.4f}, "
                  f"min {known['min_iou']:.3f}")
    samples = summary(np.concatenate(all_iou), np.concatenate(all_shapes))
    match_s = time.perf_counter() - start

    whole = density(data)
    densities = {}
    for key, fixed in (("notebook_density", None), ("notebook_density_position_x_0", 0)):
        theirs = official[key]
        if fixed is None:
            ours = scaled(whole)
        else:
            factors = data.sample_factors(20_000, random_state=0)
            factors[:, 3] = fixed
            ours = scaled(density(data, factors))
        densities[key] = {
            "correlation": float(np.corrcoef(theirs.ravel(), ours.ravel())[0, 1]),
            "mean_abs_difference": float(np.abs(theirs - ours).mean()),
            "max_abs_difference": float(np.abs(theirs - ours).max()),
        }
        print(f"{key}: correlation {densities[key]['correlation']:.4f}, mean |diff| "
              f"{densities[key]['mean_abs_difference']:.4f}")
    official_mean = float(np.concatenate([official[s] for s in SOURCES[:4]]).mean())
    print(f"sampled tiles (GIF left out): mean best IoU {samples['mean_iou']:.4f}; mean pixel: "
          f"official tiles {official_mean:.4f}, whole procedural set {whole.mean():.4f}")

    save_result("dsprites_fidelity", {
        "renderer_version": RENDERER_VERSION,
        "sources": rows,
        "sampled_tiles": samples,
        "mean_pixel_official_sampled_tiles": official_mean,
        "mean_pixel_procedural_whole_set": float(whole.mean()),
        "density": densities,
        "match_seconds": round(match_s, 1),
    })
    plot(np.concatenate(all_tiles), np.concatenate(all_matches), FIGURE)


def plot(tiles: np.ndarray, matches: np.ndarray, path: Path) -> None:
    """24 random sampled official tiles overlaid on their best procedural matches:
    white where both are set, red official only, blue procedural only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(tiles), 24, replace=False))
    figure, axes = plt.subplots(3, 8, figsize=(10, 4))
    for axis, n in zip(axes.ravel(), chosen):
        theirs, ours = tiles[n].astype(bool), matches[n].astype(bool)
        image = np.zeros((64, 64, 3))
        image[theirs & ours] = 1.0
        image[theirs & ~ours] = (1.0, 0.2, 0.2)
        image[~theirs & ours] = (0.3, 0.5, 1.0)
        iou = (theirs & ours).sum() / max((theirs | ours).sum(), 1)
        axis.imshow(image, interpolation="nearest")
        axis.set_title(f"IoU {iou:.3f}", fontsize=8)
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle("Official dSprites samples vs the closest procedural image: white both, "
                    "red official only, blue procedural only", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
