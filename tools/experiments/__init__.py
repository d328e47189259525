"""Seeded training experiments whose logs the chapters plot.

A chapter's lesson must not rest on one run of a chaotic process, and training that takes
more than about a minute does not belong in a notebook that CI re-executes twice. So each
experiment here runs every seed, writes one JSON log to ``book/data/``, and the chapter loads
the log, draws every seed and checks its claims against all of them. Run one with

    .venv/bin/python -m tools.experiments.bptt_delay          # writes book/data/bptt_delay.json

Each log records the configuration, the seeds, the torch version and CPU capability it was
made with, and a hash of the script's source: ``tests/test_experiments.py`` fails when a
script has changed since its log was written, so a log never silently describes other code.
"""
