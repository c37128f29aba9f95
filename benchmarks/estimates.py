"""Time estimates printed before long work, against the time the work then took.

Run: ``nice -n 10 python benchmarks/estimates.py`` (minutes on 2 cores). Runs each
command below as a subprocess (stderr a pipe, so progress comes as plain lines) and
reads its estimate lines (``LABEL: estimated H:MM:SS (S s) in all ...``, printed after
a timing probe that is part of the real work) and the matching ``LABEL: took ...
(S s)`` lines. Records for each estimate its error against the time the same work
took, the whole command's wall time, and the load average of the machine before and
after (the machine may be shared). Writes benchmarks/results/estimates.json.

Budgets are reduced so that every command takes a minute or two (stated in each
command): ``rank --votes 100 --group-size 20`` (S = 2,000: 4,000 encoder passes per
pair), ``evaluate --sample-multiplier 0.1``, ``udr --samples 10000``, and a
``train-zoo`` of three beta-VAEs of 150 iterations each.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import RESULTS, save_result

ROOT = Path(__file__).resolve().parent.parent
ESTIMATE = re.compile(r"^(?P<label>.+?): estimated \S+ \((?P<seconds>[\d.]+) s\) in all")
TOOK = re.compile(r"^(?P<label>.+?): took \S+ \((?P<seconds>[\d.]+) s\)")
#: The goal: every estimate within this fraction of the actual time.
TOLERANCE = 0.30


def commands(work: Path) -> dict[str, list[str]]:
    spec = work / "tiny_zoo.json"
    spec.write_text(
        json.dumps(
            {"method": "beta-vae", "preset": "cpu", "seeds": 3, "settings": {"iterations": 150}}
        )
    )
    mc = [sys.executable, "-m", "modelcentrality.cli"]
    reduced = ["--votes", "100", "--group-size", "20", "--n-boot", "0"]
    return {
        "rank_infogan_cr": [*mc, "rank", "zoos/infogan_cr", *reduced],
        "rank_factorvae": [*mc, "rank", "zoos/factorvae", *reduced],
        "evaluate_factorvae": [
            *mc, "evaluate", "zoos/factorvae", "--metrics", "factorvae,mig",
            "--sample-multiplier", "0.1",
        ],
        "udr_factorvae": [*mc, "udr", "zoos/factorvae", "--samples", "10000"],
        "train_zoo_beta_vae": [
            *mc, "train-zoo", str(spec), "-o", str(work / "zoo"), "--skip-scores",
        ],
    }


def run(name: str, argv: list[str]) -> dict:
    load_before = os.getloadavg()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    lines = done.stderr.splitlines()
    # A label may recur (train-zoo's per-model bars): each "took" line closes the
    # earliest open estimate of its label.
    phases, open_phases = [], {}
    for line in lines:
        estimate, took = ESTIMATE.match(line), TOOK.match(line)
        if estimate:
            phase = {"label": estimate["label"], "estimate_s": float(estimate["seconds"]),
                     "actual_s": None, "error": None}
            phases.append(phase)
            open_phases.setdefault(phase["label"], []).append(phase)
        elif took and open_phases.get(took["label"]):
            phase = open_phases[took["label"]].pop(0)
            phase["actual_s"] = float(took["seconds"])
            phase["error"] = round(phase["estimate_s"] / phase["actual_s"] - 1, 3)
    row = {
        "name": name,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", *argv[1:]]).replace(str(ROOT) + "/", ""),
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        # CPU seconds the command got: on a shared machine, cpu_s / wall_s is its share.
        "cpu_s": round(cpu, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "phases": phases,
        "within_tolerance": bool(phases)
        and all(p["error"] is not None and abs(p["error"]) <= TOLERANCE for p in phases),
        "stderr_head": [line for line in lines if "estimated" in line or ": took" in line
                        or "computing" in line or "models x" in line or "to train" in line],
    }
    if done.returncode:
        row["stderr_tail"] = lines[-5:]
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        help="Run only this command (by name; repeatable), replacing its row in the results.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = commands(Path(tmp))
        rows = [run(name, argv) for name, argv in table.items() if not args.only
                or name in args.only]
    previous = RESULTS / "estimates.json"
    earlier = []
    if args.only and previous.is_file():
        # Rerun commands replace their rows, which move to earlier_runs; the others keep
        # theirs (each row has its own command, date and load averages).
        fresh = {row["name"] for row in rows}
        old = json.loads(previous.read_text())
        kept = [r for r in old["runs"] if r["name"] not in fresh]
        earlier = old.get("earlier_runs", []) + [r for r in old["runs"] if r["name"] in fresh]
        rows = sorted(kept + rows, key=lambda r: list(table).index(r["name"]))
    save_result(
        "estimates",
        {
            "tolerance": TOLERANCE,
            "note": "estimate_s: printed after the probe (rank: the second source "
            "task, a source model rendered and encoded by every encoder, timed from the "
            "end of the first, which warms the encoders up; udr: the first 5 s of "
            "encoding, rate measured after the first batch; evaluate and train-zoo: the "
            "first model); actual_s: the same phase's time, printed when it ended. "
            "error = estimate / actual - 1. Run under nice -n 10 on a 2-core machine "
            "shared with other jobs (load averages and the CPU seconds each command got "
            "are recorded): a CPU share that changes during a run moves the actual time "
            "away from any estimate made early in it.",
            "runs": rows,
            "earlier_runs": earlier,
        },
    )


if __name__ == "__main__":
    main()
