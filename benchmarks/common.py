"""Helpers shared by the benchmark scripts: machine description and result files."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from modelcentrality.io._files import write_json

RESULTS = Path(__file__).resolve().parent / "results"
#: Rank cache shared by selection.py and budget.py: a pair computed by one is reused.
CACHE = Path(__file__).resolve().parent.parent / "build" / "bench-cache"


def machine() -> dict[str, Any]:
    """CPU, core count, memory and package versions of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        memory_gb = round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    versions = {}
    for package in ("numpy", "numba", "onnxruntime", "scikit-learn", "scipy", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": sys.version.split()[0],
        "versions": versions,
    }


def save_result(name: str, payload: dict[str, Any]) -> Path:
    """Write benchmarks/results/<name>.json with machine, command and date added."""
    payload = {
        "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + sys.argv[1:]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    write_json(path, payload)
    return path
