"""Ground-truth datasets (dSprites and variants) with known factors of variation.

:func:`get_dataset` turns a name into a dataset: ``"dsprites"``, ``"color_dsprites"`` or
``"noisy_dsprites"`` render the images procedurally; ``"NAME:PATH"`` reads the official
``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` at PATH instead.
"""

from __future__ import annotations

from ._fidelity import match_official
from .base import DatasetError, DatasetFactors, GroundTruthDataset
from .dsprites import RENDERER_VERSION, DSprites
from .variants import ColorDSprites, NoisyDSprites

#: Dataset names accepted by :func:`get_dataset`.
DATASETS: dict[str, type[DSprites]] = {
    "dsprites": DSprites,
    "color_dsprites": ColorDSprites,
    "noisy_dsprites": NoisyDSprites,
}


def dataset_version(spec: str) -> str:
    """The ground-truth version of a dataset spec, without reading any file.

    ``"NAME/procedural-vN"`` for a rendered dataset (N = :data:`RENDERER_VERSION`),
    ``"NAME/official-file"`` for ``NAME:PATH``. Every output carrying ground-truth scores
    records it; scores with different versions are not comparable.

    Raises
    ------
    DatasetError
        Unknown name.
    """
    name, has_path, _ = str(spec).partition(":")
    dataset = get_dataset(name)
    return f"{dataset.name}/official-file" if has_path else dataset.ground_truth_version


def get_dataset(spec: str) -> GroundTruthDataset:
    """A dataset from its name, optionally followed by ``:PATH`` to the official file.

    Parameters
    ----------
    spec : str
        ``"dsprites"``, ``"color_dsprites"``, ``"noisy_dsprites"``, or one of them as
        ``"NAME:PATH"`` (e.g. ``"dsprites:data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"``).

    Raises
    ------
    DatasetError
        Unknown name (the message lists the known ones), empty path, or an unusable file.
    """
    if not isinstance(spec, str):
        raise DatasetError(f"dataset spec must be a string, got {spec!r}")
    name, has_path, path = spec.partition(":")
    cls = DATASETS.get(name.strip().lower())
    if cls is None:
        known = ", ".join(DATASETS)
        raise DatasetError(
            f"unknown dataset '{spec}': known datasets are {known} "
            "(each also as NAME:PATH to the official dSprites .npz)"
        )
    if not has_path:
        return cls()
    if not path.strip():
        raise DatasetError(f"dataset '{spec}': empty path after ':'")
    return cls.from_npz(path.strip())


__all__ = [
    "DATASETS",
    "RENDERER_VERSION",
    "ColorDSprites",
    "DSprites",
    "DatasetError",
    "DatasetFactors",
    "GroundTruthDataset",
    "NoisyDSprites",
    "dataset_version",
    "get_dataset",
    "match_official",
]
