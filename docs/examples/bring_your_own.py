"""Bring your own PyTorch VAEs, from training to a ranked report with ground truth.

The steps of docs/bring_your_own.md in one script:

1. train three tiny beta-VAEs on dSprites (your own code, any convention: here the
   encoder returns one [mean | logvar] tensor and the decoder returns logits);
2. wrap each with ``from_vae`` and export it to a zoo folder (the export checks itself);
3. load the zoo, rank it by ModelCentrality;
4. score every model with supervised metrics on dSprites (the ground truth that
   ModelCentrality does without) and write the HTML report with both.

Run from the repository root (about 20 s of one CPU core with the defaults)::

    python docs/examples/bring_your_own.py --out build/bring_your_own

``--quick`` trains and ranks with smaller budgets (CI runs it so). Then open
``build/bring_your_own/report/index.html``; ``modelcentrality inspect
build/bring_your_own/zoo`` checks the exported models one line each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

import modelcentrality as mc
from modelcentrality.adapters import export_torch_model, from_vae
from modelcentrality.datasets import get_dataset
from modelcentrality.metrics import evaluate_zoo, metric_settings
from modelcentrality.report import read_ground_truth, write_report

LATENT_DIM = 6
BETAS = (1.0, 4.0, 8.0)


class TinyVAE(nn.Module):
    """A small VAE on 64x64 images, seen at 16x16 (average-pooled) to train in seconds."""

    def __init__(self, latent_dim: int = LATENT_DIM) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.AvgPool2d(4),
            nn.Flatten(),
            nn.Linear(16 * 16, 256),
            nn.ReLU(),
            nn.Linear(256, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 256),
            nn.ReLU(),
            nn.Linear(256, 16 * 16),
            nn.Unflatten(1, (1, 16, 16)),
            nn.Upsample(scale_factor=4, mode="nearest"),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """One tensor [mean | logvar], as many released VAEs return it."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (the loss applies the sigmoid)."""
        return self.decoder(z)


def train(beta: float, images: np.ndarray, steps: int, seed: int) -> TinyVAE:
    """A beta-VAE: Bernoulli reconstruction + beta * KL to N(0, I)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    vae = TinyVAE()
    optimiser = torch.optim.Adam(vae.parameters(), lr=2e-3)
    for _ in range(steps):
        batch = torch.from_numpy(images[rng.integers(len(images), size=64)])
        mean, logvar = vae.encode(batch).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        recon = nn.functional.binary_cross_entropy_with_logits(
            vae.decode(z), batch, reduction="sum"
        ) / len(batch)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(1).mean()
        optimiser.zero_grad()
        (recon + beta * kl).backward()
        optimiser.step()
    return vae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/bring_your_own"))
    parser.add_argument("--quick", action="store_true", help="smaller budgets (CI)")
    args = parser.parse_args()
    # Networks this small gain nothing from more threads; one leaves the other cores free.
    torch.set_num_threads(1)
    steps, votes, sample_multiplier = (200, 60, 0.02) if args.quick else (600, 200, 0.1)

    # 1. Train (your own code): three beta-VAEs on procedurally rendered dSprites.
    dataset = get_dataset("dsprites")
    images = dataset.sample_observations(4096, random_state=0)
    zoo_dir = args.out / "zoo"
    for seed, beta in enumerate(BETAS):
        vae = train(beta, images, steps, seed).eval()

        # 2. Wrap (the conventions are checked here, with a hint if a choice is wrong)
        #    and export (the ONNX graphs are checked against the modules).
        model = from_vae(
            vae.encode,
            vae.decode,
            latent_dim=LATENT_DIM,
            name=f"vae_beta{beta:g}",
            encoder_output="concat",
            output="logits",
        )
        export_torch_model(
            model, zoo_dir / model.name, extra_metadata={"beta": beta, "steps": steps}
        )

    # 3. Rank the exported zoo (a reduced protocol; drop the overrides for the paper's).
    zoo = mc.load_zoo(zoo_dir)
    result = mc.rank(zoo, random_state=0, votes=votes, group_size=20, scale_samples=1000)
    result.to_json(args.out / "ranking.json")

    # 4. Ground truth: supervised FactorVAE and MIG scores on dSprites, then the report.
    metrics = ["factorvae", "mig"]
    evaluation = evaluate_zoo(
        zoo, dataset, metrics, random_state=0, settings=metric_settings(metrics, sample_multiplier)
    )
    evaluation.to_json(args.out / "ground_truth.json")
    truth = read_ground_truth(args.out / "ground_truth.json")
    write_report(result, zoo, args.out / "report", ground_truth=truth)

    comparison = truth.compare(result.names, result.scores)
    summary = {
        "ranking": result.ranking,
        "scores": dict(zip(result.names, map(float, result.scores))),
        "ground_truth": {name: truth.scores[name] for name in result.names},
        "comparison": comparison,
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for position, name in enumerate(result.ranking, start=1):
        print(f"{position}. {name}  factorvae {truth.scores[name]['factorvae']:.3f}")
    print(f"report: {args.out / 'report' / 'index.html'}")


if __name__ == "__main__":
    main()
