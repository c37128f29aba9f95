"""Official dSprites tiles from public renders, for the fidelity benchmark and the tests.

Run: ``python benchmarks/dsprites_tiles.py NOTEBOOK GIF SAMPLES_PNG`` with

- NOTEBOOK: ``dsprites_reloading_example.ipynb`` of github.com/deepmind/dsprites-dataset
  (Apache-2.0). Its stored outputs are matplotlib figures of images read from the official
  file: 25 random samples, 9 samples with position x fixed to index 0, 9 with orientation
  fixed to index 5 (0.8 rad);
- GIF: ``dsprites.gif`` of the same repository, 320 frames at 64x64 (a factor traversal);
- SAMPLES_PNG: ``results/VAE_dsprites/data_samples.png`` of
  github.com/YannDubs/disentangling-vae (MIT), a 10x10 grid of official samples with
  2-pixel padding.

Writes benchmarks/data/dsprites_official_tiles.npz (every tile, uint8 0/1, shape
(n, 64, 64), one key per source; duplicate GIF frames dropped; and the notebook's two
pixel-density maps, float (64, 64) in [0, 1]) and the notebook tiles to
tests/data/dsprites_official_tiles.npz.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
#: Notebook output figure -> (key, number of tiles) in the order the notebook draws them.
NOTEBOOK_FIGURES = {
    0: ("notebook_random", 25),
    2: ("notebook_position_x_0", 9),
    4: ("notebook_orientation_5", 9),
}
#: Notebook output figure -> key of its pixel-density map (mean of 5,000 samples, shown
#: in grey levels from its minimum to its maximum).
NOTEBOOK_DENSITIES = {1: "notebook_density", 3: "notebook_density_position_x_0"}


def notebook_figures(path: Path) -> list[np.ndarray]:
    """Every PNG output of the notebook, as grey levels on white (transparent = white)."""
    figures = []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                rgba = np.asarray(Image.open(io.BytesIO(base64.b64decode(png))).convert("RGBA"))
                alpha = rgba[..., 3] / 255.0
                figures.append(rgba[..., :3].mean(axis=2) * alpha + 255.0 * (1.0 - alpha))
    return figures


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def figure_tiles(figure: np.ndarray, count: int) -> np.ndarray:
    """The black image panels of a figure, each sampled back to 64x64 at pixel centres."""
    dark = figure < 128
    rows, cols = runs(dark.mean(axis=1) > 0.3), runs(dark.mean(axis=0) > 0.3)
    tiles = []
    for top, bottom in rows:
        for left, right in cols:
            panel = figure[top:bottom, left:right]
            r = ((np.arange(64) + 0.5) * panel.shape[0] / 64).astype(int)
            c = ((np.arange(64) + 0.5) * panel.shape[1] / 64).astype(int)
            tiles.append(panel[np.ix_(r, c)] > 128)
    return np.array(tiles[:count], dtype=np.uint8)


def figure_panel(figure: np.ndarray) -> np.ndarray:
    """The one image panel of a figure (everything not white), sampled back to 64x64 at
    pixel centres, as grey levels in [0, 1]."""
    rows = np.flatnonzero((figure < 250).any(axis=1))
    cols = np.flatnonzero((figure < 250).any(axis=0))
    panel = figure[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    r = ((np.arange(64) + 0.5) * panel.shape[0] / 64).astype(int)
    c = ((np.arange(64) + 0.5) * panel.shape[1] / 64).astype(int)
    return panel[np.ix_(r, c)] / 255.0


def gif_frames(path: Path) -> np.ndarray:
    image = Image.open(path)
    frames = []
    for index in range(image.n_frames):
        image.seek(index)
        frames.append(np.asarray(image.convert("L")) > 127)
    frames = np.array(frames, dtype=np.uint8)
    _, first = np.unique(frames.reshape(len(frames), -1), axis=0, return_index=True)
    return frames[np.sort(first)]


def grid_tiles(path: Path, per_side: int = 10, padding: int = 2) -> np.ndarray:
    grey = np.asarray(Image.open(path).convert("L"))
    step = 64 + padding
    return np.array(
        [
            grey[
                padding + r * step : padding + r * step + 64,
                padding + c * step : padding + c * step + 64,
            ]
            > 127
            for r in range(per_side)
            for c in range(per_side)
        ],
        dtype=np.uint8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("gif", type=Path)
    parser.add_argument("samples_png", type=Path)
    args = parser.parse_args()

    figures = notebook_figures(args.notebook)
    notebook = {key: figure_tiles(figures[i], n) for i, (key, n) in NOTEBOOK_FIGURES.items()}
    tiles = dict(notebook)
    tiles.update({key: figure_panel(figures[i]) for i, key in NOTEBOOK_DENSITIES.items()})
    tiles["readme_gif"] = gif_frames(args.gif)
    tiles["disentangling_vae_samples"] = grid_tiles(args.samples_png)
    for directory, arrays in (("benchmarks/data", tiles), ("tests/data", notebook)):
        out = ROOT / directory / "dsprites_official_tiles.npz"
        out.parent.mkdir(exist_ok=True)
        np.savez_compressed(out, **arrays)
        print(out, {key: value.shape for key, value in arrays.items()})


if __name__ == "__main__":
    main()
