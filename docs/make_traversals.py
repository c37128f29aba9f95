"""Latent traversal picture of one model: each row sweeps one code dim over its prior.

Run: ``python docs/make_traversals.py MODEL_DIR OUT.png [--columns 9] [--seed 0]``.
All other latent dims stay at one prior draw, so each row shows what one code controls.
"""

from __future__ import annotations

import argparse

import numpy as np

from modelcentrality import load_model


def traversal_grid(model, columns: int, seed: int) -> np.ndarray:
    """Observations of shape (K, columns, *observation_shape)."""
    base = model.sample_prior(1, seed)[0]
    prior = model.prior
    if prior.type == "uniform":
        values = np.linspace(prior.low, prior.high, columns)
    else:
        values = prior.mean + prior.std * np.linspace(-2.0, 2.0, columns)
    latents = np.tile(base, (model.num_codes, columns, 1))
    for row, dim in enumerate(model.code_dims):
        latents[row, :, dim] = values
    flat = model.generate(latents.reshape(-1, model.latent_dim).astype(np.float32))
    return flat.reshape(model.num_codes, columns, *model.observation_shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("output")
    parser.add_argument("--columns", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = load_model(args.model_dir)
    grid = traversal_grid(model, args.columns, args.seed)
    rows, columns = grid.shape[:2]
    figure, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.95 + 0.4))
    for row in range(rows):
        for column in range(columns):
            image = np.moveaxis(grid[row, column], 0, -1)
            axis = axes[row, column]
            axis.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image,
                        cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        axes[row, 0].set_ylabel(f"code {model.code_dims[row]}", fontsize=8)
    figure.suptitle(f"{model.name}: latent traversals", fontsize=9)
    figure.tight_layout()
    figure.savefig(args.output, dpi=100)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
