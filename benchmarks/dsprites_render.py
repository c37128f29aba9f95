"""Procedural dSprites rendering speed: batches of 4096 and the whole 737,280-image set.

Run: ``python benchmarks/dsprites_render.py``. Writes benchmarks/results/dsprites_render.json.
Also reports the size the whole set would take bit-packed (np.packbits), the form a disk
cache would have: rendering is faster than reading such a cache back, so none is kept.
"""

from __future__ import annotations

import os
import time

import numpy as np
from common import save_result

from modelcentrality.datasets import ColorDSprites, DSprites, NoisyDSprites
from modelcentrality.datasets.dsprites import NUM_IMAGES, RENDERER_VERSION

BATCH = 4096
CHUNK = 65_536


def best_time(function, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    start = time.perf_counter()
    DSprites().binary_images(np.zeros((1, 5), dtype=np.int64))
    first_call_s = time.perf_counter() - start

    rows = []
    for dataset in (DSprites(), ColorDSprites(), NoisyDSprites()):
        factors = dataset.sample_factors(BATCH, random_state=0)
        rng = np.random.default_rng(0)
        rows.append(
            {
                "dataset": dataset.name,
                "batch": BATCH,
                "observations_s": best_time(
                    lambda d=dataset, f=factors, r=rng: d.sample_observations_from_factors(f, r)
                ),
            }
        )
    data = DSprites()
    factors = data.sample_factors(BATCH, random_state=0)
    binary_s = best_time(lambda: data.binary_images(factors))

    start = time.perf_counter()
    packed_bytes = 0
    pixel_sum = 0
    for first in range(0, NUM_IMAGES, CHUNK):
        images = data.images_at(np.arange(first, min(first + CHUNK, NUM_IMAGES)))
        pixel_sum += int(images.sum(dtype=np.int64))
        packed_bytes += np.packbits(images.reshape(len(images), -1), axis=1).nbytes
    full_pack_s = time.perf_counter() - start
    start = time.perf_counter()
    for first in range(0, NUM_IMAGES, CHUNK):
        data.images_at(np.arange(first, min(first + CHUNK, NUM_IMAGES)))
    full_s = time.perf_counter() - start

    payload = {
        "renderer_version": RENDERER_VERSION,
        # Timings scale with other jobs on the machine: record how busy it was.
        "load_average_1min": os.getloadavg()[0],
        "first_call_s": first_call_s,
        "binary_batch_s": binary_s,
        "rows": rows,
        "full_set_images": NUM_IMAGES,
        "full_set_render_s": full_s,
        "full_set_render_and_pack_s": full_pack_s,
        "full_set_uint8_mb": NUM_IMAGES * 64 * 64 / 1e6,
        "full_set_packbits_mb": packed_bytes / 1e6,
        "mean_pixel": pixel_sum / (NUM_IMAGES * 64 * 64),
    }
    path = save_result("dsprites_render", payload)
    print(f"first call: {first_call_s * 1e3:.1f} ms (loads the compiled rasteriser)")
    print(f"binary batch of {BATCH}: {binary_s * 1e3:.1f} ms")
    for row in rows:
        print(f"{row['dataset']}: {BATCH} observations in {row['observations_s'] * 1e3:.1f} ms")
    print(
        f"whole set: {full_s:.2f} s to render, {full_pack_s:.2f} s with packbits; "
        f"{payload['full_set_packbits_mb']:.0f} MB packed "
        f"({payload['full_set_uint8_mb']:.0f} MB as uint8); mean pixel "
        f"{payload['mean_pixel']:.4f}"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
