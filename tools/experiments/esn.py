"""Chapter 11: the echo state networks of the course-wide results table, over five seeds.

Two scores per seed, each on a reservoir drawn from that seed:

- one-step Mackey-Glass (τ = 17, ``coursekit.mackey_glass``, one sample per time unit): an ESN
  of 500 units, spectral radius 1.25, leak rate 0.3, ridge 1e-6, teacher-forced on 2 000 steps
  (the first 100 washed out) and scored on the next 500 by the NRMSE (RMSE over the standard
  deviation of the target), with the seconds the fit took;
- memory capacity, Eq. (11.7), of 100 units at spectral radius 1 and ridge 1e-4 with
  k_max = 50 (the setting of issue 19, where reservoirpy 0.4.2 gives 18.78 / 16.45 / 18.40 for
  its seeds 1 / 2 / 3).

The same numbers as chapter 11's §11.4 for the first, in a script so that the results page
reads them from a log.
"""

from __future__ import annotations

import sys
import time

import torch

from coursekit import ESN, mackey_glass, memory_capacity, nrmse
from tools.experiments.log import run_seeds

CONFIG = {
    "mackey_glass": {
        "units": 500,
        "spectral_radius": 1.25,
        "leak_rate": 0.3,
        "ridge": 1e-6,
        "train": 2000,
        "washout": 100,
        "test": 500,
    },
    "memory": {"units": 100, "spectral_radius": 1.0, "ridge": 1e-4, "k_max": 50},
}


def run(seed: int, config=CONFIG) -> dict:
    mg, mem = config["mackey_glass"], config["memory"]
    series = mackey_glass(mg["train"] + mg["test"] + 1)
    u, y = series[:-1, None], series[1:, None]
    started = time.perf_counter()
    esn = ESN(
        1,
        mg["units"],
        spectral_radius=mg["spectral_radius"],
        leak_rate=mg["leak_rate"],
        ridge=mg["ridge"],
        generator=torch.Generator().manual_seed(seed),
    )
    esn.fit(u[: mg["train"]], y[: mg["train"]], washout=mg["washout"])
    seconds = time.perf_counter() - started
    error = nrmse(esn.predict(u[mg["train"] :]), y[mg["train"] :])
    reservoir = ESN(
        1,
        mem["units"],
        spectral_radius=mem["spectral_radius"],
        ridge=mem["ridge"],
        generator=torch.Generator().manual_seed(seed),
    )
    capacity = memory_capacity(
        reservoir, mem["k_max"], generator=torch.Generator().manual_seed(1000 + seed)
    )
    return {
        "seed": seed,
        "nrmse": error,
        "fit_seconds": round(seconds, 3),
        "memory_capacity": capacity,
        "parameters": mg["units"] + 1,  # the trained readout
    }


if __name__ == "__main__":
    run_seeds(sys.modules[__name__], run, CONFIG)
