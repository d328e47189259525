"""The one way an experiment runs its seeds and writes its log (see the package docstring)."""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "book" / "data"
SEEDS = (0, 1, 2, 3, 4)


def source_hash(module) -> str:
    """sha256 of a module's source file: the log's link to the code that made it."""
    return hashlib.sha256(Path(inspect.getfile(module)).read_bytes()).hexdigest()


def rounded(values, digits: int = 5) -> list:
    """Floats to `digits` significant digits (a log of curves, not of bits); nan/inf kept."""

    def one(v: float):
        v = float(v)
        return v if not math.isfinite(v) or v == 0 else float(f"{v:.{digits}g}")

    return [one(v) for v in values]


def run_seeds(module, run: Callable[[int], dict], config: dict, argv=None) -> dict:
    """Parse ``--seeds`` and ``--out``, run ``run(seed)`` for each seed and write the log."""
    name = Path(inspect.getfile(module)).stem  # the module may run as __main__
    parser = argparse.ArgumentParser(description=inspect.getdoc(module).splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="default: 0-4")
    parser.add_argument(
        "--out", type=Path, default=DATA / f"{name}.json", help=f"default: book/data/{name}.json"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # the runs are small; one thread is fastest and repeatable
    started = time.perf_counter()
    runs = [run(seed) for seed in tqdm(args.seeds, desc=name, unit="seed")]
    log = {
        "experiment": name,
        "script": f"tools/experiments/{name}.py",
        "source_sha256": source_hash(module),
        "config": config,
        "seeds": args.seeds,
        "runs": runs,
        "made_with": {
            "torch": torch.__version__,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "machine": platform.machine(),
            "seconds": round(time.perf_counter() - started, 1),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(log, indent=1) + "\n")
    print(f"wrote {args.out} ({len(runs)} seeds, {log['made_with']['seconds']} s)")
    return log
