"""Training settings of the reference models, and the named presets.

Each trainer has a frozen dataclass of settings whose defaults are the ``paper`` preset
(the public InfoGAN-CR code and the paper's FactorVAE zoo). The ``cpu`` preset overrides
a few of them so that one model trains in at most 30 minutes on a 2-core CPU; the
``gpu`` preset so that a zoo of 24 models trained as one group
(:mod:`~.grouped`) takes about 4 minutes on one H200. :data:`PRESETS` is the one source
of truth for all three, and :func:`preset_table` renders them for docs/reference_zoos.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ParameterError

#: dSprites: 737,280 images; an epoch at batch 64 is 11,520 iterations.
DSPRITES_EPOCH_AT_64 = 737_280 // 64


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ParameterError(message)


@dataclass(frozen=True)
class _Common:
    iterations: int
    batch_size: int = 64
    init_std: float = 0.02
    #: Iterations between checkpoints (does not change the trained model).
    checkpoint_every: int = 2000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type in ("int", int):
                _require(
                    isinstance(value, int) and not isinstance(value, bool),
                    f"setting '{field.name}' must be an integer, got {value!r}",
                )
            elif field.type in ("float", float):
                _require(
                    isinstance(value, (int, float)) and not isinstance(value, bool),
                    f"setting '{field.name}' must be a number, got {value!r}",
                )
        _require(self.iterations >= 1, "setting 'iterations' must be >= 1")
        _require(self.batch_size >= 2, "setting 'batch_size' must be >= 2")
        _require(self.init_std > 0, "setting 'init_std' must be > 0")
        _require(self.checkpoint_every >= 1, "setting 'checkpoint_every' must be >= 1")
        for name in ("beta1", "beta2", "tc_beta1", "tc_beta2"):
            if hasattr(self, name):
                value = getattr(self, name)
                _require(0 <= value < 1, f"setting '{name}' must lie in [0, 1), got {value}")
        for field in dataclasses.fields(self):
            if field.name.startswith("lr"):
                value = getattr(self, field.name)
                _require(value > 0, f"setting '{field.name}' must be > 0, got {value}")


@dataclass(frozen=True)
class InfoGANCRConfig(_Common):
    """InfoGAN-CR on dSprites: 28 epochs at batch 64, CR from iteration 288,000."""

    iterations: int = 28 * DSPRITES_EPOCH_AT_64
    #: First iteration trained with the contrastive regulariser (alpha > 0); the model
    #: just before it is exported as "InfoGAN (modified)".
    cr_start: int = 288_000
    num_codes: int = 5
    num_noise: int = 5
    q_weight: float = 0.05
    cr_weight: float = 2.0
    generator_steps: int = 2
    lr_generator: float = 1e-3
    lr_discriminator: float = 2e-3
    lr_cr: float = 2e-3
    beta1: float = 0.5
    beta2: float = 0.999

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.cr_start >= 0, "setting 'cr_start' must be >= 0")
        _require(self.num_codes >= 1, "setting 'num_codes' must be >= 1")
        _require(self.num_noise >= 0, "setting 'num_noise' must be >= 0")
        _require(self.q_weight >= 0, "setting 'q_weight' must be >= 0")
        _require(self.cr_weight >= 0, "setting 'cr_weight' must be >= 0")
        _require(self.generator_steps >= 1, "setting 'generator_steps' must be >= 1")


@dataclass(frozen=True)
class FactorVAEConfig(_Common):
    """FactorVAE on dSprites: 10 Gaussian dims, 27 epochs at batch 64."""

    iterations: int = 27 * DSPRITES_EPOCH_AT_64
    latent_dim: int = 10
    #: gamma, the total-correlation weight (the paper's zoo: 1, 10, 20, 40).
    tc_weight: float = 10.0
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    lr_tc: float = 1e-4
    tc_beta1: float = 0.5
    tc_beta2: float = 0.9
    tc_layers: int = 6
    tc_units: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.latent_dim >= 1, "setting 'latent_dim' must be >= 1")
        _require(self.tc_weight >= 0, "setting 'tc_weight' must be >= 0")
        _require(self.tc_layers >= 1, "setting 'tc_layers' must be >= 1")
        _require(self.tc_units >= 1, "setting 'tc_units' must be >= 1")


@dataclass(frozen=True)
class BetaVAEConfig(_Common):
    """beta-VAE on dSprites, trained like the FactorVAE zoo (27 epochs, Adam 1e-4)."""

    iterations: int = 27 * DSPRITES_EPOCH_AT_64
    latent_dim: int = 10
    beta: float = 4.0
    lr: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.latent_dim >= 1, "setting 'latent_dim' must be >= 1")
        _require(self.beta >= 0, "setting 'beta' must be >= 0")


CONFIGS: dict[str, type[_Common]] = {
    "infogan-cr": InfoGANCRConfig,
    "factorvae": FactorVAEConfig,
    "beta-vae": BetaVAEConfig,
}

#: Seconds per iteration at batch 64, 1 thread, on the shared 2-core CPU of the project
#: (Intel Xeon, torch 2.13), the slowest of several measurements taken while other jobs
#: loaded the machine (load average ~15); an idle machine was 1.5x faster, 2.3x with 2
#: threads. "infogan-cr+cr" is an iteration with the contrastive regulariser on.
CPU_SECONDS_PER_ITERATION: dict[str, float] = {
    "infogan-cr": 0.59,
    "infogan-cr+cr": 1.53,
    "factorvae": 0.50,
    "beta-vae": 0.22,
}

#: Seconds per iteration of a group of 24 models at batch 64 on one NVIDIA H200
#: (:mod:`~.grouped`, float32, on-device draws). FactorVAE was measured by a prototype
#: of the grouped trainer (1,453 model-iterations/s at K = 24, i.e. 16.5 ms per group
#: iteration); the others are estimates from it: InfoGAN-CR 3x FactorVAE (two generator
#: steps, two discriminator passes, batch norm and spectral norm), 2.6x more with the
#: contrastive regulariser on (the CPU ratio 1.53 / 0.59 above), beta-VAE FactorVAE
#: divided by 2.3 (no TC discriminator; the CPU ratio 0.50 / 0.22).
GPU_GROUP_SECONDS_PER_ITERATION: dict[str, float] = {
    "infogan-cr": 0.0495,
    "infogan-cr+cr": 0.129,
    "factorvae": 0.0165,
    "beta-vae": 0.0072,
}

#: Models per group that :data:`GPU_GROUP_SECONDS_PER_ITERATION` was sized for.
GPU_GROUP_SIZE = 24

#: Preset name -> trainer -> settings that differ from the dataclass defaults (= paper).
#: cpu: the paper's settings with fewer iterations, as many as fit in 27 minutes at the
#: rates above (3 minutes spare for start-up, checkpoints and export). InfoGAN-CR keeps
#: about the paper's share of CR iterations (the last 10.7%).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {"infogan-cr": {}, "factorvae": {}, "beta-vae": {}},
    "cpu": {
        "infogan-cr": {"iterations": 2400, "cr_start": 2150, "checkpoint_every": 200},
        "factorvae": {"iterations": 3200, "checkpoint_every": 200},
        "beta-vae": {"iterations": 7000, "checkpoint_every": 500},
    },
    "gpu": {
        # One device call of at most 9 minutes trains the 24-model FactorVAE zoo (tc_weight
        # 1, 10, 20, 40 x 6 seeds) and the 24-model InfoGAN-CR zoo (with its 24 "InfoGAN
        # (modified)" models), each in under ~200 s of training at the GPU rates above,
        # leaving ~2 minutes for start-up, throughput check, data, checkpoints and the 72
        # exports. FactorVAE: one epoch (11,520 iterations, 190 s). InfoGAN-CR: 0.25 epoch
        # (2,880 iterations, 167 s) with the regulariser from the paper's share of the
        # schedule, 288,000 / 322,560 = 89.3% (iteration 2,571). beta-VAE: two epochs
        # (23,040 iterations, 166 s).
        "infogan-cr": {"iterations": 2880, "cr_start": 2571, "checkpoint_every": 1000},
        "factorvae": {"iterations": DSPRITES_EPOCH_AT_64, "checkpoint_every": 5760},
        "beta-vae": {"iterations": 2 * DSPRITES_EPOCH_AT_64, "checkpoint_every": 11520},
    },
}


def _schedule_seconds(config: _Common, rates: dict[str, float]) -> float:
    scale = config.batch_size / 64
    if isinstance(config, InfoGANCRConfig):
        plain = min(config.cr_start, config.iterations)
        with_cr = config.iterations - plain
        return scale * (plain * rates["infogan-cr"] + with_cr * rates["infogan-cr+cr"])
    method = "factorvae" if isinstance(config, FactorVAEConfig) else "beta-vae"
    return scale * config.iterations * rates[method]


def estimated_gpu_seconds(config: _Common) -> float:
    """Training time of a 24-model group with ``config`` at
    :data:`GPU_GROUP_SECONDS_PER_ITERATION` (scaled by batch)."""
    return _schedule_seconds(config, GPU_GROUP_SECONDS_PER_ITERATION)


def estimated_cpu_seconds(config: _Common) -> float:
    """Training time of ``config`` at :data:`CPU_SECONDS_PER_ITERATION` (scaled by batch),
    one model at one thread."""
    return _schedule_seconds(config, CPU_SECONDS_PER_ITERATION)


def _parse(field: dataclasses.Field, text: str) -> Any:
    if field.type in ("int", int):
        try:
            return int(text.replace("_", ""))
        except ValueError:
            raise ParameterError(
                f"setting '{field.name}' must be an integer, got {text!r}"
            ) from None
    try:
        return float(text)
    except ValueError:
        raise ParameterError(f"setting '{field.name}' must be a number, got {text!r}") from None


def make_config(method: str, preset: str = "paper", overrides: Mapping[str, Any] | None = None):
    """The settings of a trainer: a preset plus overrides.

    Parameters
    ----------
    method : {"infogan-cr", "factorvae", "beta-vae"}
    preset : {"paper", "cpu", "gpu"}
    overrides : mapping of str to str or number, optional
        Setting name -> value; strings (from ``--set key=value``) are parsed to the
        setting's type.

    Raises
    ------
    ParameterError
        Unknown method, preset or setting, or a value of the wrong type or range.
    """
    if method not in CONFIGS:
        raise ParameterError(f"unknown trainer '{method}': known trainers are {', '.join(CONFIGS)}")
    if preset not in PRESETS:
        raise ParameterError(f"unknown preset '{preset}': known presets are {', '.join(PRESETS)}")
    cls = CONFIGS[method]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = dict(PRESETS[preset][method])
    for key, value in (overrides or {}).items():
        if key not in fields:
            raise ParameterError(
                f"unknown setting '{key}' for {method}: known settings are {', '.join(fields)}"
            )
        if isinstance(value, str):
            value = _parse(fields[key], value)
        elif fields[key].type in ("float", float) and type(value) is int:
            value = float(value)
        values[key] = value
    return cls(**values)


def parse_assignments(items: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["key=value", ...]`` -> dict; raises ParameterError on an item without '='."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(f"--set expects key=value, got {item!r}")
        result[key.strip()] = value.strip()
    return result


def preset_table(presets: tuple[str, ...] = ("paper", "cpu")) -> str:
    """Markdown table of every setting whose value differs between ``presets`` (the
    default pair is the README's table; docs/training.md shows all three)."""
    lines = [
        "| trainer | setting | " + " | ".join(presets) + " |",
        "|---|---|" + "---|" * len(presets),
    ]
    for method in CONFIGS:
        configs = [dataclasses.asdict(make_config(method, p)) for p in presets]
        for key in configs[0]:
            values = [c[key] for c in configs]
            if any(v != values[0] for v in values):
                cells = " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in values)
                lines.append(f"| {method} | {key} | {cells} |")
    return "\n".join(lines)
