"""Benchmarks: each module has ``run(quick: bool) -> list[dict]`` with the keys
``figure``, ``median_s``, ``min_s``, ``max_s``, ``baseline`` and ``ratio``; ``python -m
benchmarks`` runs them all and prints one table."""
