"""Ground-truth datasets: procedural dSprites geometry, index order, official-file checks,
variants, get_dataset and the supervised factor source."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

from modelcentrality.datasets import (
    ColorDSprites,
    DatasetError,
    DatasetFactors,
    DSprites,
    GroundTruthDataset,
    NoisyDSprites,
    dataset_version,
    get_dataset,
    match_official,
)
from modelcentrality.datasets.dsprites import NUM_IMAGES, RENDERER_VERSION
from modelcentrality.engine._scoring import factorvae_score
from modelcentrality.engine._votes import PAPER
from modelcentrality.errors import ModelCentralityError
from modelcentrality.reference_models.zoo_job import _current_ground_truth
from modelcentrality.report import read_ground_truth

SHAPE, SCALE, ORIENTATION, X, Y = range(5)


def grid(**fixed: int | list[int]) -> np.ndarray:
    """Factor rows for the product of the given values; unnamed factors sit mid-range."""
    values = {"shape": 0, "scale": 3, "orientation": 0, "x": 15, "y": 15}
    values.update(fixed)
    axes = [np.atleast_1d(values[k]) for k in ("shape", "scale", "orientation", "x", "y")]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def centroid(images: np.ndarray) -> np.ndarray:
    """(column, row) centre of mass of binary images (n, 64, 64)."""
    rows, cols = np.mgrid[:64, :64]
    mass = images.sum(axis=(1, 2))
    return np.stack(
        [(images * cols).sum(axis=(1, 2)) / mass, (images * rows).sum(axis=(1, 2)) / mass],
        axis=1,
    )


@pytest.fixture(scope="module")
def data() -> DSprites:
    return DSprites()


def test_observation_format(data):
    factors = data.sample_factors(300, random_state=0)
    images = data.sample_observations_from_factors(factors)
    assert images.shape == (300, 1, 64, 64)
    assert images.dtype == np.float32
    assert set(np.unique(images)) == {0.0, 1.0}
    assert (images.sum(axis=(1, 2, 3)) > 0).all()
    assert isinstance(data, GroundTruthDataset)
    assert data.factor_sizes == (3, 6, 40, 32, 32)
    assert data.n_factors == 5


def test_sprites_never_touch_the_border(data):
    corners = grid(shape=[0, 1, 2], scale=5, orientation=list(range(40)), x=[0, 31], y=[0, 31])
    images = data.binary_images(corners)
    assert not images[:, [0, -1], :].any() and not images[:, :, [0, -1]].any()
    # The largest square at 46 degrees spans pixels 3..28 at position 0, 35..60 at 31.
    squares = data.binary_images(grid(shape=0, scale=5, orientation=5, x=[0, 31], y=[0, 31]))
    columns = np.nonzero(squares[0].any(axis=0))[0], np.nonzero(squares[-1].any(axis=0))[0]
    assert (columns[0][[0, -1]] == [3, 28]).all() and (columns[1][[0, -1]] == [35, 60]).all()


def test_area_grows_with_scale(data):
    factors = grid(shape=[0, 1, 2], scale=list(range(6)), orientation=[0, 7, 23])
    area = data.binary_images(factors).sum(axis=(1, 2)).reshape(3, 6, 3)
    assert (np.diff(area, axis=1) > 0).all()
    ratio = area[:, 5] / area[:, 0]  # scale 1 vs 0.5: about four times the area
    assert ((ratio > 3.5) & (ratio < 4.6)).all()


def test_centroid_follows_position(data):
    along_x = centroid(data.binary_images(grid(shape=1, scale=5, x=list(range(32)))))
    along_y = centroid(data.binary_images(grid(shape=1, scale=5, y=list(range(32)))))
    # 32/31 px per step, from pixel 15.5 to 47.5: x moves columns rightwards, y rows
    # downwards; point sampling moves the centroid by whole pixels, so steps are 1 or 2.
    for moving, still in ((along_x[:, 0], along_x[:, 1]), (along_y[:, 1], along_y[:, 0])):
        assert moving[0] == pytest.approx(15.5, abs=0.05)
        assert moving[-1] == pytest.approx(47.5, abs=0.05)
        assert ((np.diff(moving) > 0.5) & (np.diff(moving) < 2.1)).all()
        np.testing.assert_allclose(still, still[0], atol=0.05)


def test_orientation_wraps_and_turns_counter_clockwise(data):
    factors = grid(shape=[0, 1, 2], scale=[0, 5], orientation=[0, 39], x=[3, 30], y=[5])
    images = data.binary_images(factors).reshape(3, 2, 2, 2, 64, 64)
    np.testing.assert_array_equal(images[:, :, 0], images[:, :, 1])
    # A quarter turn of the ellipse stands it up; 45 degrees (index 5) leans it like "/".
    ellipse = data.binary_images(grid(shape=1, scale=5, orientation=[0, 5, 10]))
    rows, cols = np.nonzero(ellipse[0])
    assert np.ptp(cols) > 1.5 * np.ptp(rows)
    rows, cols = np.nonzero(ellipse[2])
    assert np.ptp(rows) > 1.5 * np.ptp(cols)
    rows, cols = np.nonzero(ellipse[1])
    assert np.corrcoef(cols, rows)[0, 1] < -0.5  # rows grow downwards: "/" is negative


def test_heart_points_down_at_orientation_zero(data):
    heart = data.binary_images(grid(shape=2, scale=5))[0]
    rows = np.nonzero(heart.any(axis=1))[0]
    assert heart[rows[0]].sum() < heart[rows[0] + 3].sum()  # two lobes on top
    assert heart[rows[-1]].sum() <= 3  # the point at the bottom


def test_shapes_differ(data):
    images = data.binary_images(grid(shape=[0, 1, 2], scale=5, orientation=3))
    for a in range(3):
        for b in range(a + 1, 3):
            assert (images[a] != images[b]).sum() > 20
    assert len(set(images.sum(axis=(1, 2)).tolist())) == 3


OFFICIAL = np.load(Path(__file__).parents[1] / "data" / "dsprites_official_tiles.npz")


@pytest.mark.parametrize(
    ("key", "fixed"),
    [
        ("notebook_position_x_0", {"position_x": 0}),
        ("notebook_orientation_5", {"orientation": 5}),
        ("notebook_random", None),
    ],
)
def test_official_tiles_match_at_their_own_factors(key, fixed):
    tiles = OFFICIAL[key]
    iou, factors = match_official(tiles, fixed)
    assert iou.min() >= 0.95
    # Unconstrained, the best match lands on the known value too, up to the shape's
    # symmetry (a quarter turn for squares, a half turn for ellipses) and one step.
    _, free = match_official(tiles)
    if fixed == {"position_x": 0}:
        assert (free[:, X] == 0).all()
    if fixed == {"orientation": 5}:
        step = 2 * np.pi / 39
        symmetry = np.array([np.pi / 2, np.pi, 2 * np.pi])[free[:, SHAPE]]
        turn = (free[:, ORIENTATION] - 5) * step % symmetry
        assert (np.minimum(turn, symmetry - turn) <= step + 1e-9).all()


def test_match_official_rejects_unknown_factor_names():
    with pytest.raises(ValueError, match="unknown factor name"):
        match_official(OFFICIAL["notebook_random"][:1], {"rotation": 5})
    with pytest.raises(ValueError, match=r"'orientation' must be an integer in \[0, 40\)"):
        match_official(OFFICIAL["notebook_random"][:1], {"orientation": 40})


def test_ground_truth_version_names_dataset_and_renderer(data):
    assert data.ground_truth_version == f"dsprites/procedural-v{RENDERER_VERSION}"
    assert NoisyDSprites().ground_truth_version.startswith("noisy_dsprites/procedural-v")


def test_disentanglement_lib_names_are_aliases(data):
    assert data.num_factors == data.n_factors == 5
    assert data.factors_num_values == [3, 6, 40, 32, 32]
    # Code written for disentanglement_lib passes a RandomState.
    first = data.sample_factors(10, np.random.RandomState(0))
    np.testing.assert_array_equal(first, data.sample_factors(10, np.random.RandomState(0)))
    images = data.sample_observations_from_factors(first, np.random.RandomState(1))
    assert images.shape == (10, 1, 64, 64)
    colour = ColorDSprites().sample(4, np.random.RandomState(2))[1]
    assert colour.shape == (4, 3, 64, 64)


@pytest.mark.slow
def test_mean_pixel_matches_official_statistics(data):
    images = data.sample_observations(20_000, random_state=1)
    assert 0.040 < images.mean() < 0.046  # official: 0.043


def test_index_order_round_trips(data):
    rng = np.random.default_rng(0)
    index = rng.integers(0, NUM_IMAGES, size=1000)
    factors = data.index_to_factors(index)
    np.testing.assert_array_equal(data.factors_to_index(factors), index)
    known = {
        0: [0, 0, 0, 0, 0],
        1: [0, 0, 0, 0, 1],
        32: [0, 0, 0, 1, 0],
        1024: [0, 0, 1, 0, 0],
        40_960: [0, 1, 0, 0, 0],
        245_760: [1, 0, 0, 0, 0],
        NUM_IMAGES - 1: [2, 5, 39, 31, 31],
    }
    np.testing.assert_array_equal(data.index_to_factors(list(known)), list(known.values()))
    np.testing.assert_array_equal(data.images_at(index[:50]), data.binary_images(factors[:50]))


def test_bad_factors_and_indices_are_rejected(data):
    with pytest.raises(ValueError, match=r"shape \(n, 5\)"):
        data.sample_observations_from_factors(np.zeros((3, 4), dtype=int))
    with pytest.raises(ValueError, match="integer class indices"):
        data.sample_observations_from_factors(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="'orientation' must lie in \\[0, 40\\), got 40"):
        data.factors_to_index([[0, 0, 40, 0, 0]])
    with pytest.raises(ValueError, match="indices must lie in"):
        data.index_to_factors([NUM_IMAGES])
    with pytest.raises(ValueError, match="indices must be integers"):
        data.images_at([1.5])


def test_rendering_is_deterministic_and_batch_independent(data):
    factors = data.sample_factors(500, random_state=3)
    whole = data.binary_images(factors)
    pieces = np.concatenate([data.binary_images(factors[i : i + 7]) for i in range(0, 500, 7)])
    np.testing.assert_array_equal(whole, pieces)
    first, second = data.sample(64, random_state=5), data.sample(64, random_state=5)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


# --- the official file -------------------------------------------------------------


def official_latents() -> tuple[np.ndarray, np.ndarray]:
    classes = np.zeros((NUM_IMAGES, 6), dtype=np.int64)
    classes[:, 1:] = DSprites().index_to_factors(np.arange(NUM_IMAGES))
    return classes, classes.astype(np.float64)


def test_npz_errors_name_the_file_and_the_problem(tmp_path):
    missing = tmp_path / "nothere.npz"
    with pytest.raises(DatasetError, match=r"nothere\.npz': no such file"):
        DSprites.from_npz(missing)
    # A folder stands for the file under its official name inside it.
    with pytest.raises(DatasetError, match=r"co1sh3sc6or40x32y32_64x64\.npz': no such file"):
        get_dataset(f"dsprites:{tmp_path}")

    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(DatasetError, match=r"text\.npz': not a readable \.npz"):
        DSprites.from_npz(text)

    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(DatasetError, match="single .npy array"):
        DSprites.from_npz(single)

    keys = tmp_path / "keys.npz"
    np.savez(keys, imgs=np.zeros((2, 64, 64), np.uint8), metadata=np.array([{"a": 1}]))
    with pytest.raises(DatasetError, match="missing key.s. latents_classes, latents_values"):
        DSprites.from_npz(keys)

    small = tmp_path / "small.npz"
    np.savez(
        small,
        imgs=np.zeros((10, 64, 64), np.uint8),
        latents_classes=np.zeros((10, 6), np.int64),
        latents_values=np.zeros((10, 6)),
    )
    with pytest.raises(DatasetError, match=r"small\.npz': 'latents_classes' has shape \(10, 6\)"):
        DSprites.from_npz(small)


@pytest.mark.slow
def test_npz_with_the_right_latents_but_wrong_images(tmp_path):
    classes, values = official_latents()
    path = tmp_path / "dsprites.npz"
    np.savez_compressed(
        path,
        imgs=np.zeros((10, 32, 32), np.uint8),
        latents_classes=classes,
        latents_values=values,
    )
    with pytest.raises(DatasetError, match=r"'imgs' has shape \(10, 32, 32\), expected"):
        get_dataset(f"dsprites:{path}")

    shuffled = tmp_path / "shuffled.npz"
    np.savez_compressed(
        shuffled,
        imgs=np.zeros((10, 64, 64), np.uint8),
        latents_classes=classes[::-1],
        latents_values=values,
    )
    with pytest.raises(DatasetError, match="does not follow the official index order"):
        DSprites.from_npz(shuffled)


@pytest.mark.slow
def test_official_images_back_the_dataset():
    # A stand-in for the official 3 GB array: overlapping windows of one random buffer,
    # so every index has its own image without allocating the whole set.
    rng = np.random.default_rng(0)
    buffer = rng.integers(0, 2, NUM_IMAGES + 2 * 4096, dtype=np.uint8)
    official = as_strided(buffer, shape=(NUM_IMAGES, 64, 64), strides=(1, 64, 1), writeable=False)
    for cls in (DSprites, ColorDSprites):
        data = cls(images=official)
        assert not data.procedural
        factors = data.sample_factors(40, random_state=0)
        np.testing.assert_array_equal(
            data.binary_images(factors), official[data.factors_to_index(factors)]
        )
    with pytest.raises(DatasetError, match="0/1 pixels"):
        DSprites(images=as_strided(buffer * 255, shape=official.shape, strides=(1, 64, 1)))
    with pytest.raises(DatasetError, match="has shape"):
        DSprites(images=np.zeros((5, 64, 64), np.uint8))


# --- variants and lookup -------------------------------------------------------------


@pytest.mark.parametrize("cls", [ColorDSprites, NoisyDSprites])
def test_variants_keep_the_sprite_and_use_random_state(cls, data):
    variant = cls()
    factors = variant.sample_factors(200, random_state=0)
    images = variant.sample_observations_from_factors(factors, random_state=1)
    assert images.shape == (200, 3, 64, 64) and images.dtype == np.float32
    assert variant.observation_shape == (3, 64, 64)
    assert images.min() >= 0.0 and images.max() <= 1.0
    mask = data.binary_images(factors).astype(bool)[:, None].repeat(3, axis=1)
    if cls is ColorDSprites:
        assert (images[~mask] == 0).all()
        colours = images.max(axis=(2, 3))
        assert colours.min() >= 0.5 and colours.std(axis=0).min() > 0.1
        # One colour per image: every sprite pixel of a channel holds it.
        np.testing.assert_array_equal(images.min(axis=(2, 3), where=mask, initial=1.0), colours)
    else:
        assert (images[mask] == 1).all()
        background = images[~mask]
        assert background.max() < 1.0 and abs(background.mean() - 0.5) < 0.01
    again = variant.sample_observations_from_factors(factors, random_state=1)
    other = variant.sample_observations_from_factors(factors, random_state=2)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)


def test_get_dataset_names_and_errors(tmp_path):
    assert type(get_dataset("dsprites")) is DSprites
    assert type(get_dataset("color_dsprites")) is ColorDSprites
    assert type(get_dataset(" Noisy_DSprites")) is NoisyDSprites
    with pytest.raises(DatasetError, match="known datasets are dsprites, color_dsprites"):
        get_dataset("shapes3d")
    with pytest.raises(DatasetError, match="empty path"):
        get_dataset("dsprites:")
    with pytest.raises(ModelCentralityError, match="no such file"):
        get_dataset(f"noisy_dsprites:{tmp_path / 'x.npz'}")
    with pytest.raises(ValueError, match="must be a string"):
        get_dataset(None)


# --- the supervised factor source ------------------------------------------------------


def test_dataset_factors_groups_hold_one_factor(data):
    source = DatasetFactors(data)
    rng = np.random.default_rng(0)
    fixed = np.arange(25) % 5
    draws = source.draw_groups(fixed, 16, rng).reshape(25, 16, 5)
    for vote, k in enumerate(fixed):
        assert len(np.unique(draws[vote, :, k])) == 1
        others = np.delete(draws[vote], k, axis=1)
        assert (others.max(axis=0) > others.min(axis=0)).all()
    images = source.render(draws.reshape(-1, 5)[:10], rng)
    assert images.shape == (10, 1, 64, 64)


@pytest.mark.slow
def test_supervised_score_of_a_position_and_size_encoder(data):
    def encoder(images: np.ndarray) -> np.ndarray:
        binary = images[:, 0]
        return np.column_stack([centroid(binary), np.sqrt(binary.sum(axis=(1, 2)))])

    protocol = dataclasses.replace(PAPER, votes=200, scale_samples=2000)
    result = factorvae_score(encoder, DatasetFactors(data), protocol, random_state=0)
    # The two centroid dims win the position votes, the size dim the scale votes.
    assert result.train_table[0].argmax() == X and result.train_table[1].argmax() == Y
    assert result.train_table[0, X] == 40 and result.train_table[1, Y] == 40
    assert result.train_table[2, SCALE] == 40
    assert result.score == pytest.approx(0.6, abs=0.05)


# --- versioned ground truth ------------------------------------------------------------


def test_dataset_version_needs_no_file(tmp_path):
    assert dataset_version("dsprites") == f"dsprites/procedural-v{RENDERER_VERSION}"
    assert dataset_version(f"dsprites:{tmp_path / 'absent.npz'}") == "dsprites/official-file"
    with pytest.raises(DatasetError, match="unknown dataset"):
        dataset_version("shapes3d")


def write_manifest(path: Path, versions: list[str | None]) -> Path:
    models = []
    for n, version in enumerate(versions):
        entry = {"name": f"m{n}", "status": "done", "scores": {"factorvae_paper": {"score": 0.5}}}
        if version is not None:
            entry["ground_truth_version"] = version
        models.append(entry)
    path.write_text(json.dumps({"spec": {"data": "dsprites"}, "models": models}))
    return path


def test_ground_truth_files_carry_their_version(tmp_path):
    current = dataset_version("dsprites")
    truth = read_ground_truth(write_manifest(tmp_path / "now.json", [current, current]))
    assert truth.version == current and truth.version_warning() is None
    old = read_ground_truth(write_manifest(tmp_path / "old.json", [None, None]))
    assert old.version is None
    assert "records no dataset version" in old.version_warning()
    stale = read_ground_truth(write_manifest(tmp_path / "v1.json", ["dsprites/procedural-v1"]))
    assert "scored on dsprites/procedural-v1" in stale.version_warning()
    with pytest.raises(ModelCentralityError, match="mixes ground truth of different dataset"):
        read_ground_truth(write_manifest(tmp_path / "mixed.json", [current, None]))
    evaluated = tmp_path / "evaluate.json"
    evaluated.write_text(
        json.dumps(
            {
                "ground_truth_version": "dsprites/official-file",
                "results": {"m0": {"factorvae": {"score": 0.7}}},
            }
        )
    )
    assert read_ground_truth(evaluated).version_warning() is None


def test_train_zoo_rescores_entries_of_another_version():
    entry = {"name": "m0", "scores": {"mig": {}}, "modified_scores": {}, "seed": 0}
    fresh = _current_ground_truth(entry, "dsprites")
    assert "scores" not in fresh and "modified_scores" not in fresh and fresh["seed"] == 0
    assert fresh["ground_truth_version"] == dataset_version("dsprites")
    kept = _current_ground_truth({**entry, **fresh, "scores": {"mig": {}}}, "dsprites")
    assert kept["scores"] == {"mig": {}}


def load_benchmark(name: str):
    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def test_comparison_with_the_official_file(tmp_path, monkeypatch):
    script = load_benchmark("dsprites_vs_official")
    saved = {}
    monkeypatch.setattr(script, "save_result", lambda name, payload: saved.update(payload))

    class Official(DSprites):
        """The procedural images with every heart one pixel further right."""

        def binary_images(self, factors):
            images = super().binary_images(factors)
            hearts = np.asarray(factors)[:, SHAPE] == 2
            images[hearts] = np.roll(images[hearts], 1, axis=2)
            return images

    monkeypatch.setattr(DSprites, "from_npz", classmethod(lambda cls, path: Official()))
    payload = script.main([str(tmp_path / "official.npz"), "--samples", "600"])
    rows = {row["shape"]: row for row in payload["rows"]}
    assert rows["square"]["identical_images"] == rows["ellipse"]["identical_pixels"] == 1.0
    assert rows["heart"]["identical_images"] == 0.0
    assert 0.95 < rows["heart"]["identical_pixels"] < 1.0
    assert rows["heart"]["centroid_offset_px"][0] == pytest.approx(-1.0)
    assert saved["renderer_version"] == RENDERER_VERSION
    assert sum(row["images"] for row in payload["rows"]) == 600

    monkeypatch.undo()
    tiny = tmp_path / "tiny.npz"
    classes, values = official_latents()
    np.savez(
        tiny,
        imgs=np.zeros((3, 64, 64), np.uint8),
        latents_classes=classes[:3],
        latents_values=values[:3],
    )
    with pytest.raises(DatasetError, match=r"tiny\.npz': 'latents_classes' has shape"):
        script.main([str(tiny)])
