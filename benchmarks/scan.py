"""The linear scan's strategies against mambapy's pscan, forward + backward, in one run.

    .venv/bin/python benchmarks/scan.py                       # the default grid, CPU (+ CUDA)
    .venv/bin/python benchmarks/scan.py --grid 1,4096,16,4 --repeats 5
    .venv/bin/python benchmarks/scan.py --device cpu --threads 1
    .venv/bin/python benchmarks/scan.py --json book/data/scan_timings.json   # also a file

For h_t = a_t ⊙ h_{t-1} + b_t (coursekit.scan, Eq. (10.20)) on (b, L, d, n) inputs, float32,
each measurement is a forward pass, a backward pass with a fixed upstream gradient and the
gradients cleared. At every grid point the implementations take turns (loop, blelloch,
chunked, auto, mambapy's pscan, then the same rotated by one, ...) after a warm-up, so a busy
machine slows them alike and none always runs after the same one (at large sizes the run
before leaves the allocator and the page cache in its own state);
medians over the rounds (at least ``--repeats``, more for small sizes until ``--min-seconds``
have passed) are reported with ``auto``'s ratio to the fastest, to the loop and to
pscan, all measured in the same run. The bar (issue 18): auto within 1.2x of the fastest at
every size and never slower than the loop or pscan. For the largest size the bytes that must
move (forward: read a, b, write h; backward: read dl/dh, a, h, write dl/da, dl/db: 8 tensors)
divided by auto's time are set against the copy bandwidth measured in the same run (a
``Tensor.copy_`` of the same size, read + write). The loop is skipped above ``--loop-max``
elements (it is minutes there; its anchor at b=1, L=4096, d=16, n=4 is in the default grid).

Choosing ``auto``: coursekit.scan._choose runs the loop up to L = 8 steps and the parallel
scan (blelloch) beyond, on every device and size; the chunked scan was never the fastest here
on CPU. The threshold came from this script on the 2-core AMD EPYC of 2026-12, shared with
other jobs at the time, so the medians were noisy: rerun it where you use it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from coursekit.scan import _choose, linear_scan, scan_blelloch, scan_chunked, scan_loop

try:
    from mambapy.pscan import pscan
except ImportError:  # mambapy is a test-only dependency
    pscan = None

DEFAULT_GRID = [
    (1, 16, 16, 4),
    (1, 256, 16, 4),
    (1, 4096, 16, 4),  # the anchor
    (8, 1024, 64, 16),
    (4, 4096, 128, 16),  # a large state: 32 M elements
]


def implementations():
    impls = {
        "loop": scan_loop,
        "blelloch": scan_blelloch,
        "chunked": scan_chunked,
        "auto": linear_scan,
    }
    if pscan is not None:
        impls["mambapy pscan"] = pscan
    return impls


def forward_backward(fn, a, b, upstream):
    h = fn(a, b)
    h.backward(upstream)
    a.grad = b.grad = None


def measure(impls, size, device, repeats, warmup, synchronize, loop_max, min_seconds):
    batch, length, d, n = size
    a = (0.9 + 0.1 * torch.rand(batch, length, d, n, device=device)).requires_grad_()
    b = torch.randn(batch, length, d, n, device=device, requires_grad=True)
    upstream = torch.randn(batch, length, d, n, device=device)
    names = [k for k in impls if k != "loop" or a.numel() <= loop_max]
    times = {name: [] for name in names}
    round_, started = 0, time.perf_counter()
    # at least ``repeats`` rounds; small sizes keep going for ``min_seconds`` (at most 100)
    while round_ < warmup + repeats or (
        time.perf_counter() - started < min_seconds and round_ < warmup + 100
    ):
        round_ += 1
        shift = round_ % len(names)  # rotate the order: no one always follows the same run
        for name in names[shift:] + names[:shift]:
            synchronize()
            start = time.perf_counter()
            forward_backward(impls[name], a, b, upstream)
            synchronize()
            if round_ > warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, a


def copy_bandwidth(numel, device, synchronize, repeats=5):
    """Bytes per second of ``dst.copy_(src)`` (read + write) for float32 tensors of ``numel``."""
    src, dst = torch.randn(numel, device=device), torch.empty(numel, device=device)
    best = float("inf")
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        dst.copy_(src)
        synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * 4 * numel / best


def run(device, grid, args, results):
    """Print the table for ``device``; append one record per size to ``results``."""
    synchronize = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    impls = implementations()
    print(f"\n{device}: forward + backward, median ms of >= {args.repeats} rounds (float32)")
    header = "".join(f"{name:>14s}" for name in impls)
    print(f"  {'(b, L, d, n)':22s}{header}   auto runs   auto/best  auto/loop  auto/pscan")
    worst = 0.0
    for size in grid:
        medians, a = measure(
            impls,
            size,
            device,
            args.repeats,
            args.warmup,
            synchronize,
            args.loop_max,
            args.min_seconds,
        )
        best = min(medians.values())
        cells = "".join(
            f"{1e3 * medians[name]:14.2f}" if name in medians else f"{'-':>14s}" for name in impls
        )
        ratio = medians["auto"] / best
        worst = max(worst, ratio)
        vs_loop = f"{medians['auto'] / medians['loop']:9.3f}" if "loop" in medians else "        -"
        vs_pscan = (
            f"{medians['auto'] / medians['mambapy pscan']:10.3f}"
            if "mambapy pscan" in medians
            else "         -"
        )
        print(f"  {str(size):22s}{cells}   {_choose(a):9s} {ratio:9.2f}  {vs_loop}  {vs_pscan}")
        results.append(
            {
                "device": device,
                "size": list(size),
                "auto_runs": _choose(a),
                "median_ms": {name: round(1e3 * t, 4) for name, t in medians.items()},
            }
        )
        if device == "cuda" and size[1] == 4096 and "loop" in medians:
            speedup = medians["loop"] / medians["blelloch"]
            print(f"  GPU at L = 4096: loop / blelloch = {speedup:.1f}x (bar: >= 20x)")
    numel = a.numel()
    moved = 8 * 4 * numel
    bandwidth = copy_bandwidth(numel, device, synchronize)
    achieved = moved / medians["auto"]
    print(
        f"  largest size {grid[-1]}: auto moves >= {moved / 1e9:.2f} GB in "
        f"{1e3 * medians['auto']:.1f} ms = {achieved / 1e9:.2f} GB/s; copy bandwidth "
        f"{bandwidth / 1e9:.2f} GB/s; auto at {100 * achieved / bandwidth:.0f}% of the bound"
    )
    print(f"  RATIO {device}: worst auto / fastest = {worst:.2f} (bar: <= 1.2)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--grid",
        type=lambda text: [tuple(int(v) for v in point.split(",")) for point in text.split(";")],
        default=DEFAULT_GRID,
        help="points b,L,d,n separated by ';'",
    )
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--min-seconds", type=float, default=2.0, help="keep repeating small sizes this long"
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--loop-max", type=int, default=2**18, help="largest b*L*d*n for the loop")
    parser.add_argument("--device", choices=["all", "cpu", "cuda"], default="all")
    parser.add_argument("--json", type=Path, default=None, help="also write the medians here")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    if pscan is None:
        print("mambapy is not installed: its pscan is left out")
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    results = []
    for device in devices:
        if device == "cuda" and not torch.cuda.is_available():
            print("\ncuda: no CUDA device, skipped")
            continue
        run(device, args.grid, args, results)
    if args.json is not None:
        record = {
            "benchmark": "benchmarks/scan.py",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "dtype": "float32",
            "repeats": args.repeats,
            "machine": f"{platform.machine()}, {torch.backends.cpu.get_cpu_capability()}",
            "results": results,
        }
        args.json.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
