"""Latent traversal picture of one model: each row sweeps one code dim over its prior.

Run: ``python docs/make_traversals.py MODEL_DIR OUT.png [--columns 9] [--seed 0]``.
All other latent dims stay at one prior draw, so each row shows what one code controls
(the same figure as in the ``rank --report`` page).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from modelcentrality import load_model
from modelcentrality.report import traversal_grid
from modelcentrality.report._figures import traversal_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_dir")
    parser.add_argument("output")
    parser.add_argument("--columns", type=int, default=9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = load_model(args.model_dir)
    grid = traversal_grid(model, args.columns, args.seed)
    png = traversal_figure(grid, f"{model.name}: latent traversals", list(model.code_dims))
    Path(args.output).write_bytes(png)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
