"""Set-up and demo time of a newcomer: clone the repository, then `make setup` and `make demo`.

Run: ``python benchmarks/fresh_clone.py [--repo .] [--workdir /tmp/mc-fresh]``. Writes
benchmarks/results/fresh_clone.json with both wall times, the CPU time of each step
(its processes and their children), the load average before and after (other jobs on a
shared machine slow it down), the size of the demo's virtual environment, and the
demo's last lines. pip's download cache is whatever the machine has.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import save_result

ROOT = Path(__file__).resolve().parent.parent


def timed(command: list[str], cwd: Path, log: Path) -> dict[str, float]:
    """Run ``command``; its wall time and the CPU time of its process tree."""
    load_before = [round(x, 2) for x in os.getloadavg()]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("w") as handle:
        subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall_s": round(wall, 1),
        "cpu_user_s": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_s": round(after.ru_stime - before.ru_stime, 1),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def tree_size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return round(total / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--name", default="fresh_clone")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="mc-fresh-"))
    clone = workdir / "clone"
    if clone.exists():
        shutil.rmtree(clone)
    subprocess.run(["git", "clone", "-q", str(args.repo), str(clone)], check=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True
    ).stdout.strip()
    setup = timed(["make", "setup"], clone, workdir / "setup.log")
    demo = timed(["make", "demo"], clone, workdir / "demo.log")
    report = clone / "build" / "demo-report" / "index.html"
    path = save_result(
        args.name,
        {
            "commit": commit,
            "setup": setup,
            "demo": demo,
            "venv_mb": tree_size_mb(clone / ".venv"),
            "torch_installed": any((clone / ".venv").rglob("site-packages/torch")),
            "ray_installed": any((clone / ".venv").rglob("site-packages/ray")),
            "report_bytes": report.stat().st_size if report.is_file() else None,
            "demo_output_tail": (workdir / "demo.log").read_text().splitlines()[-12:],
        },
    )
    print(f"set-up {setup['wall_s']} s, demo {demo['wall_s']} s; wrote {path}")


if __name__ == "__main__":
    main()
