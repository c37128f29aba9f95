"""Where ``rank`` spends its time on the CPU: cProfile of two reduced-protocol runs.

Run: ``python benchmarks/profile_cpu.py [--models 6] [--votes 20] [--scale-samples 2000]
[--top 25]``. Writes benchmarks/results/profile_cpu.txt: for the dSprites-architecture
speed zoo (benchmarks/speed.py) and the bundled InfoGAN-CR zoo, the top entries by
cumulative and by own time, with the machine, the command and the load average.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

from common import RESULTS, machine
from speed import make_zoo

from modelcentrality import load_zoo, rank

REPO = Path(__file__).resolve().parent.parent


def profiled(models, args) -> tuple[float, str, int]:
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    result = rank(models, votes=args.votes, scale_samples=args.scale_samples, n_boot=0,
                  progress=False)
    profile.disable()
    seconds = time.perf_counter() - start
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text).strip_dirs()
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    return seconds, text.getvalue(), result.encoder_passes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--votes", type=int, default=20)
    parser.add_argument("--scale-samples", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--bundled", default="zoos/infogan_cr")
    args = parser.parse_args()
    zoos = {
        f"speed zoo, N = {args.models}": load_zoo(make_zoo(args.models))[: args.models],
        f"bundled {args.bundled}": load_zoo(REPO / args.bundled),
    }
    lines = [
        "command: python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        "machine: " + json.dumps(machine()),
    ]
    for label, models in zoos.items():
        load = os.getloadavg()
        seconds, text, passes = profiled(models, args)
        lines += [
            "",
            f"=== {label}: {seconds:.1f} s, {passes} encoder passes, "
            f"{passes / seconds:.0f} obs/s (load average before {load[0]:.2f}) ===",
            text,
        ]
        print(lines[-2])
    (RESULTS / "profile_cpu.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
