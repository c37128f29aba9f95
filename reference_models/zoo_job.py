"""Train a zoo of reference models and record their ground-truth scores (``train-zoo``).

A zoo spec (a JSON file, or the name of one in :data:`ZOO_PRESETS`)::

    {
      "method": "factorvae",                 # infogan-cr | factorvae | beta-vae
      "preset": "paper",                     # paper | cpu
      "data": "dsprites",                    # dataset spec, see datasets.get_dataset
      "seeds": 10,                           # a count (0..n-1) or a list of seeds
      "grid": {"tc_weight": [1, 10, 20, 40]},  # optional: one model per combination
      "settings": {},                        # optional: fixed overrides of the preset
      "scores": ["factorvae_paper", "mig", "dci"],   # optional (default: these three)
      "score_settings": {"factorvae_paper": {"votes": 500}}   # optional overrides
    }

With ``device`` set (``train-zoo --device cuda``, or ``cpu``), the models are trained
together in one process as grouped networks (:mod:`~.grouped`): every model whose
settings differ from the others' only in loss weights, and which is at the same
iteration, joins one group of at most ``group_size`` models. Scoring then runs per model
as before; ``skip_scores`` leaves it to a later run of the same command (models are then
marked "trained" in the manifest, "done" once scored).

Models go to ``ZOO/<name>`` (e.g. ``factorvae_tc_weight10_s3``); InfoGAN-CR's
"InfoGAN (modified)" models to a zoo of their own, ``ZOO_modified/<name>``, so each zoo
holds one kind of model. ``ZOO/manifest.json`` lists the finished models with their
settings and scores under ``models``, and the models still to train (no scores yet)
under ``pending``, so a reader of ``models`` finds scores in every entry; it is
rewritten atomically after each model. The job is resumable:
finished models are skipped (only missing scores are computed), partial ones continue
from their checkpoints.

Scores (ground truth, computed on the exported ONNX model):

- ``factorvae_paper``: FactorVAE metric, paper protocol (Lin et al. 2020) with 500 votes
  for GAN zoos and 1000 for VAE zoos; ``score`` and ``revised_score``.
- ``mig``, ``dci``: :mod:`modelcentrality.metrics` (disentanglement_lib settings).

Each scored entry records ``ground_truth_version`` (dataset and renderer version, e.g.
``dsprites/procedural-v2``; scores of another version are recomputed, not kept) and,
when trained by this job, ``training_data_version``. A top-level ``note`` is kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .._progress import ProgressBar
from .._validation import check_int
from ..errors import ModelCentralityError, printable
from ..io import (
    MAX_SMALL_JSON_BYTES,
    METADATA_FILE,
    read_json,
    write_json,
)
from .presets import CONFIGS, PRESETS, make_config

MANIFEST_FILE = "manifest.json"
SCORES = ("factorvae_paper", "mig", "dci")
#: Most models a zoo spec may ask for (seeds x grid points).
MAX_MODELS = 10_000
_SPEC_KEYS = {"method", "preset", "data", "seeds", "grid", "settings", "scores", "score_settings"}

#: Named zoo specs: the paper's zoos, their CPU-sized versions and the 24-model zoos of
#: the ``gpu`` preset (one grouped run each on a GPU).
ZOO_PRESETS: dict[str, dict[str, Any]] = {
    "infogan-cr-paper": {"method": "infogan-cr", "preset": "paper", "seeds": 10},
    "factorvae-paper": {
        "method": "factorvae",
        "preset": "paper",
        "seeds": 10,
        "grid": {"tc_weight": [1, 10, 20, 40]},
    },
    # The CPU zoos score DCI with random forests: gradient boosting costs minutes per model.
    "infogan-cr-cpu": {
        "method": "infogan-cr",
        "preset": "cpu",
        "seeds": 10,
        "score_settings": {"dci": {"predictor": "random_forest"}},
    },
    "factorvae-cpu": {
        "method": "factorvae",
        "preset": "cpu",
        "seeds": 10,
        "grid": {"tc_weight": [1, 10, 20, 40]},
        "score_settings": {"dci": {"predictor": "random_forest"}},
    },
    "infogan-cr-gpu": {"method": "infogan-cr", "preset": "gpu", "seeds": 24},
    "factorvae-gpu": {
        "method": "factorvae",
        "preset": "gpu",
        "seeds": 6,
        "grid": {"tc_weight": [1, 10, 20, 40]},
    },
}


def load_spec(spec: str | os.PathLike | dict[str, Any]) -> dict[str, Any]:
    """A validated zoo spec from a dict, a preset name or a JSON file path.

    Raises
    ------
    ModelCentralityError
        Unreadable file, unknown keys, or settings that the trainer rejects.
    """
    if isinstance(spec, dict):
        raw = dict(spec)
    elif str(spec) in ZOO_PRESETS:
        raw = dict(ZOO_PRESETS[str(spec)])
    else:
        path = Path(spec)
        if not path.is_file():
            known = ", ".join(ZOO_PRESETS)
            raise ModelCentralityError(
                f"zoo spec '{spec}' is neither a JSON file nor a zoo preset ({known})"
            )
        raw = read_json(path, what="zoo spec", max_bytes=MAX_SMALL_JSON_BYTES)
        if not isinstance(raw, dict):
            raise ModelCentralityError(f"zoo spec {path} must hold a JSON object")
    unknown = sorted(set(raw) - _SPEC_KEYS)
    if unknown:
        raise ModelCentralityError(f"zoo spec: unknown keys {unknown}; known: {sorted(_SPEC_KEYS)}")
    method = raw.get("method")
    if not isinstance(method, str) or method not in CONFIGS:
        raise ModelCentralityError(f"zoo spec: method must be one of {list(CONFIGS)}")
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and 1 <= seeds <= MAX_MODELS:
        seeds = list(range(seeds))
    if not (
        isinstance(seeds, list)
        and 0 < len(seeds) <= MAX_MODELS
        and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds)
    ):
        raise ModelCentralityError(
            f"zoo spec: seeds must be a count in [1, {MAX_MODELS}] or a list of seeds "
            "(integers in [0, 2**32))"
        )
    grid = raw.get("grid", {})
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ModelCentralityError("zoo spec: grid must map setting names to non-empty lists")
    if len(seeds) * math.prod(len(v) for v in grid.values()) > MAX_MODELS:
        raise ModelCentralityError(f"zoo spec: more than {MAX_MODELS} models")
    scores = raw.get("scores", list(SCORES))
    if not isinstance(scores, list) or not all(isinstance(s, str) for s in scores):
        raise ModelCentralityError(f"zoo spec: scores must be a list of {list(SCORES)}")
    bad = [s for s in scores if s not in SCORES]
    if bad:
        raise ModelCentralityError(f"zoo spec: unknown scores {bad}; known: {list(SCORES)}")
    for key in ("settings", "score_settings"):
        if not isinstance(raw.get(key, {}), dict):
            raise ModelCentralityError(f"zoo spec: {key} must map setting names to values")
    for key in ("preset", "data"):
        if not isinstance(raw.get(key, ""), str):
            raise ModelCentralityError(f"zoo spec: {key} must be a string")
    result = {
        "method": method,
        "preset": raw.get("preset", "paper"),
        "data": raw.get("data", "dsprites"),
        "seeds": seeds,
        "grid": grid,
        "settings": dict(raw.get("settings", {})),
        "scores": list(scores),
        "score_settings": dict(raw.get("score_settings", {})),
    }
    if result["preset"] not in PRESETS:
        raise ModelCentralityError(f"zoo spec: preset must be one of {list(PRESETS)}")
    for model in model_plan(result):
        try:
            make_config(method, result["preset"], model["overrides"])
        except (TypeError, ValueError) as exc:
            raise ModelCentralityError(
                printable(f"zoo spec: model {model['name']}: {exc}")
            ) from None
    return result


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def model_plan(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per model: name, seed and setting overrides, in a stable order.

    Seed-major: the job trains every grid point for the first seed before the second
    seed, so a zoo stopped part-way already spans all settings.
    """
    keys = list(spec["grid"])
    plan = []
    for seed in spec["seeds"]:
        for values in itertools.product(*(spec["grid"][k] for k in keys)):
            grid_point = dict(zip(keys, values))
            tag = "".join(f"_{k}{_fmt(v)}" for k, v in grid_point.items())
            plan.append(
                {
                    "name": f"{spec['method'].replace('-', '_')}{tag}_s{seed}",
                    "seed": seed,
                    "grid": grid_point,
                    "overrides": {**spec["settings"], **grid_point},
                }
            )
    return plan


def score_model(
    model_dir: str | os.PathLike,
    data: str,
    scores: list[str],
    score_settings: dict[str, Any],
    have: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ground-truth scores of an exported model (keys already in ``have`` are kept)."""
    from ..datasets import DatasetFactors, get_dataset
    from ..engine import factorvae_score, get_protocol
    from ..io import load_model

    model = load_model(model_dir)
    dataset = get_dataset(data)
    result = dict(have or {})
    if "factorvae_paper" in scores and "factorvae_paper" not in result:
        votes = 1000 if model.kind == "vae" else 500
        overrides = {"votes": votes, **score_settings.get("factorvae_paper", {})}
        protocol = dataclasses.replace(get_protocol("paper"), **overrides)
        vote = factorvae_score(model.encode, DatasetFactors(dataset), protocol, random_state=0)
        result["factorvae_paper"] = {
            "score": float(vote.score),
            "revised_score": float(vote.revised_score),
            "votes": protocol.votes,
        }
    metrics = [s for s in scores if s in ("mig", "dci") and s not in result]
    if metrics:
        from ..metrics import evaluate

        settings = {m: score_settings[m] for m in metrics if m in score_settings}
        values = evaluate(model.encode, dataset, metrics, random_state=0, settings=settings)
        for name, value in values.items():
            result[name] = {k: float(v) for k, v in value.items()}
    return result


def _current_ground_truth(entry: dict[str, Any], data: str) -> dict[str, Any]:
    """The entry with its ``ground_truth_version`` set to the dataset's current one.

    Scores recorded on other images (another renderer version, or before versions were
    recorded) are dropped so that they are computed again, never mixed with new ones.
    """
    from ..datasets import dataset_version

    version = dataset_version(data)
    if entry.get("ground_truth_version") != version:
        entry = {key: value for key, value in entry.items() if "scores" not in key}
    return {**entry, "ground_truth_version": version}


def _train_one(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: train (or resume) one model, then score it. Returns its manifest entry."""
    import torch

    torch.set_num_threads(job["threads"])
    torch.use_deterministic_algorithms(True)
    entry = job["entry"]
    out = Path(job["out"])
    modified = Path(job["modified"]) if job["modified"] else None
    if not (out / METADATA_FILE).exists():
        _train_jobs([job], progress=job.get("model_progress", False), log_every=1)
    meta = read_json(out / METADATA_FILE, max_bytes=MAX_SMALL_JSON_BYTES)
    if meta.get("training", {}).get("settings") != job["settings"]:
        raise ModelCentralityError(f"{out} was trained with other settings than the zoo spec")
    has_modified = modified is not None and (modified / METADATA_FILE).exists()
    if job.get("skip_scores"):
        entry = {**entry, "status": "trained", "folder": str(out)}
        if has_modified:
            entry["modified_folder"] = str(modified)
        return entry
    entry = {**_current_ground_truth(entry, job["data"]), "status": "done", "folder": str(out)}
    entry["scores"] = score_model(
        out, job["data"], job["scores"], job["score_settings"], entry.get("scores")
    )
    if has_modified:
        entry["modified_folder"] = str(modified)
        entry["modified_scores"] = score_model(
            modified,
            job["data"],
            job["scores"],
            job["score_settings"],
            entry.get("modified_scores"),
        )
    return entry


def _train_jobs(jobs: list[dict[str, Any]], **options: Any) -> None:
    """Train (or resume) the models of ``jobs`` as one group: one model per worker
    process, or the groups of ``train_zoo(device=...)``; ``options`` go to
    :func:`~.train.train_models`."""
    from ..datasets import dataset_version
    from .train import train_models

    first = jobs[0]
    train_models(
        first["method"],
        [job["out"] for job in jobs],
        [job["entry"]["seed"] for job in jobs],
        preset=first["preset"],
        overrides=[job["entry"]["overrides"] for job in jobs],
        data=first["data"],
        modified_dirs=[job["modified"] for job in jobs],
        resume=True,
        **options,
    )
    for job in jobs:
        job["entry"]["training_data_version"] = dataset_version(job["data"])


def train_zoo(
    spec: str | os.PathLike | dict[str, Any],
    zoo_dir: str | os.PathLike,
    *,
    n_jobs: int = 1,
    threads: int = 1,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
    device: str | None = None,
    draws: str | None = None,
    group_size: int | None = None,
    skip_scores: bool = False,
    bf16: bool = False,
) -> dict[str, Any]:
    """Train every model of a zoo spec (resumably) and write ``ZOO/manifest.json``.

    Parameters
    ----------
    spec : dict, zoo preset name or JSON path
    zoo_dir : path-like
    n_jobs : int
        Models trained at once, each in its own process (1: in this process).
    threads : int
        Torch threads per model.
    progress : bool or None
        Models-done bar on stderr (None: only on a terminal). True in a log also
        writes each model's training progress lines.
    log : callable, optional
        Receives one line per finished model (and the losses of grouped runs).
    device : str, optional
        Train the models together as grouped networks on this device (``"cuda"``,
        ``"cpu"``...) before scoring them; None: one model per job, as above.
    draws : {"numpy", "device"}, optional
        Random draws of grouped training (see :mod:`~.grouped`; default "device" on
        CUDA, "numpy" on CPU).
    group_size : int, optional
        Most models in one group (default: all that can share one).
    skip_scores : bool
        Only train and export; a later run without it scores the models.
    bf16 : bool
        bfloat16 autocast in grouped training.

    Returns
    -------
    dict
        The manifest.
    """
    spec = load_spec(spec)
    check_int("n_jobs", n_jobs, minimum=1)
    check_int("threads", threads, minimum=1)
    if group_size is not None:
        check_int("group_size", group_size, minimum=1)
    zoo_dir = Path(zoo_dir)
    manifest = _Manifest(zoo_dir / MANIFEST_FILE, spec)
    # In a log, each model's training also writes its progress lines (a model takes
    # minutes to hours); on a terminal only the zoo's bar shows.
    model_progress = bool(progress) and not sys.stderr.isatty()
    jobs = _plan_jobs(spec, zoo_dir, manifest, threads, skip_scores, model_progress)
    manifest.save()
    if device is not None:
        _train_groups(
            spec,
            jobs,
            device=device,
            draws=draws,
            group_size=group_size,
            bf16=bf16,
            progress=progress,
            log=log,
        )
    with ProgressBar(len(jobs), label="train-zoo", enabled=progress, unit="models") as bar:
        for entry in _finish_jobs(jobs, n_jobs):
            manifest.entries[entry["name"]] = entry
            manifest.save()
            _report_finished(entry, bar, n_jobs, log)
    return manifest.save()


class _Manifest:
    """``ZOO/manifest.json`` of a run: the spec, a kept ``note``, and one entry per model.

    Attributes
    ----------
    previous : dict of str to dict
        Model name -> its entry in the manifest of an earlier run of the same spec.
    entries : dict of str to dict
        Model name -> its entry in this run.
    """

    def __init__(self, path: Path, spec: dict[str, Any]) -> None:
        self.path = path
        self.spec = spec
        self.note: dict[str, Any] = {}
        self.previous: dict[str, dict[str, Any]] = {}
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            self._read_previous()

    def _read_previous(self) -> None:
        old = read_json(self.path, what="manifest", non_finite="null")
        if isinstance(old, dict) and "note" in old:
            self.note = {"note": old["note"]}
        if not isinstance(old, dict) or old.get("spec") != self.spec:
            raise ModelCentralityError(
                f"{self.path} was written for another zoo spec; use another folder"
            )
        listed = [old.get("models", []), old.get("pending", [])]
        if not all(
            isinstance(part, list)
            and all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in part)
            for part in listed
        ):
            raise ModelCentralityError(
                f"{self.path}: models and pending must be lists of model entries"
            )
        self.previous = {m["name"]: m for m in listed[0] + listed[1]}

    def save(self) -> dict[str, Any]:
        """Write the manifest (atomically): finished models, then the pending ones."""
        done = [e for e in self.entries.values() if e["status"] == "done"]
        pending = [e for e in self.entries.values() if e["status"] != "done"]
        manifest = {"spec": self.spec, **self.note, "models": done, "pending": pending}
        write_json(self.path, manifest)
        return manifest


def _plan_jobs(
    spec: dict[str, Any],
    zoo_dir: Path,
    manifest: _Manifest,
    threads: int,
    skip_scores: bool,
    model_progress: bool,
) -> list[dict[str, Any]]:
    """One job per model of the spec; each model's pending entry goes into ``manifest``,
    keeping the scores (and data versions) an earlier run recorded."""
    modified_zoo = zoo_dir.with_name(zoo_dir.name + "_modified")
    jobs = []
    for model in model_plan(spec):
        config = make_config(spec["method"], spec["preset"], model["overrides"])
        entry = {
            **model,
            "method": spec["method"],
            "settings": dataclasses.asdict(config),
            "status": "pending",
            **{
                k: v
                for k, v in manifest.previous.get(model["name"], {}).items()
                if "scores" in k or k.endswith("_version")
            },
        }
        manifest.entries[model["name"]] = entry
        jobs.append(
            {
                "entry": entry,
                "out": str(zoo_dir / model["name"]),
                "modified": (
                    str(modified_zoo / model["name"]) if spec["method"] == "infogan-cr" else None
                ),
                "method": spec["method"],
                "preset": spec["preset"],
                "data": spec["data"],
                "settings": entry["settings"],
                "scores": spec["scores"],
                "score_settings": spec["score_settings"],
                "threads": threads,
                "skip_scores": skip_scores,
                "model_progress": model_progress,
            }
        )
    return jobs


def _finish_jobs(jobs: list[dict[str, Any]], n_jobs: int) -> Iterator[dict[str, Any]]:
    """Train (what is left) and score each job's model; yield its entry as it finishes,
    in this process (``n_jobs`` 1) or ``n_jobs`` worker processes at a time."""
    if n_jobs == 1:
        for job in jobs:
            yield _train_one(job)
        return
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_train_one, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()


def _report_finished(
    entry: dict[str, Any], bar: ProgressBar, n_jobs: int, log: Callable[[str], None] | None
) -> None:
    """Advance the zoo's bar by a finished model and log its line."""
    bar.update(1, entry["name"])
    if bar.done == n_jobs:
        # The first models (one per job, trained side by side) are the probe: the
        # others cost about the same.
        bar.estimate_now()
    if log is not None:
        score = entry.get("scores", {}).get("factorvae_paper", {}).get("score")
        tail = "" if score is None else f", FactorVAE {score:.3f}"
        log(f"{entry['name']}: {entry['status']}{tail}")


def _checkpoint_step(path: Path) -> int:
    """The iteration a checkpoint was written at (0 when there is none)."""
    from .training import read_checkpoint

    if not path.exists():
        return 0
    state = read_checkpoint(path)
    try:
        return int(state["step"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelCentralityError(
            f"checkpoint {path} is not a checkpoint of this tool ({type(exc).__name__}); "
            "delete it to start over"
        ) from None


def _train_groups(
    spec: dict[str, Any],
    jobs: list[dict[str, Any]],
    *,
    device: str,
    draws: str | None,
    group_size: int | None,
    bf16: bool,
    progress: bool | None,
    log: Callable[[str], None] | None,
) -> None:
    """Train the zoo's unfinished models as groups (see :func:`train_zoo`)."""
    import torch

    from .grouped import DeviceImages, group_key, resolve_draws
    from .train import TRAINERS, default_checkpoint

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for job in jobs:
        if (Path(job["out"]) / METADATA_FILE).exists():
            continue
        step = _checkpoint_step(default_checkpoint(job["out"]))
        key = (group_key(TRAINERS[spec["method"]], job["settings"]), step)
        groups.setdefault(key, []).append(job)
    images = None
    on_device = resolve_draws(draws, device) == "device"
    for members in groups.values():
        size = group_size or len(members)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            if on_device and images is None:
                # One copy of the data on the device serves every group.
                images = DeviceImages.from_dataset(spec["data"], torch.device(device))
            _train_jobs(
                chunk,
                device=device,
                draws=draws,
                images=images,
                bf16=bf16,
                progress=progress,
                log=log,
            )


def manifest_table(zoo_dir: str | os.PathLike) -> str:
    """Markdown table of the finished models in ``ZOO/manifest.json`` and their scores.

    One row per model: its grid settings, then FactorVAE (paper protocol), MIG and DCI
    disentanglement; InfoGAN-CR zoos add the same for the "InfoGAN (modified)" model.
    """
    manifest = read_json(Path(zoo_dir) / MANIFEST_FILE, what="manifest", non_finite="null")
    models = manifest["models"] + manifest.get("pending", [])
    done = [m for m in models if m["status"] == "done"]
    modified = any("modified_scores" in m for m in done)

    def cells(scores: dict[str, Any]) -> list[str]:
        return [
            f"{scores['factorvae_paper']['score']:.3f}",
            f"{scores['mig']['discrete_mig']:.3f}",
            f"{scores['dci']['disentanglement']:.3f}",
        ]

    headers = ["model", "settings", "FactorVAE", "MIG", "DCI"]
    if modified:
        headers += ["modified: FactorVAE", "MIG", "DCI"]
    lines = [
        f"{Path(zoo_dir).name}: {len(done)} of {len(models)} models of the "
        f"`{manifest['spec']['method']}` / `{manifest['spec']['preset']}` spec trained",
        "",
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
    ]
    for model in done:
        settings = ", ".join(f"{k}={_fmt(v)}" for k, v in model["grid"].items()) or "-"
        row = [model["name"], settings, *cells(model["scores"])]
        if modified:
            row += cells(model["modified_scores"])
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def manifest_scores(zoo_dir: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """{model name: ground-truth scores} of a zoo's finished models, from its manifest.

    A ``ZOO_modified`` zoo (InfoGAN (modified) models) has no manifest of its own: its
    scores are the ``modified_scores`` in ``ZOO/manifest.json``. Empty when there is no
    manifest.
    """
    zoo_dir = Path(zoo_dir)
    path, key = zoo_dir / MANIFEST_FILE, "scores"
    if not path.is_file() and zoo_dir.name.endswith("_modified"):
        path = zoo_dir.with_name(zoo_dir.name.removesuffix("_modified")) / MANIFEST_FILE
        key = "modified_scores"
    if not path.is_file():
        return {}
    models = read_json(path, what="manifest", non_finite="null")["models"]
    return {m["name"]: m[key] for m in models if m["status"] == "done" and m.get(key)}
