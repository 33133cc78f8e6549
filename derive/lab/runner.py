"""Running an experiment deterministically, storing its results and checking a re-run.

A stored record (``results/NAME.json``, or ``NAME.full.json`` for the full configuration) is
``{"name", "scale", "config", "scaling", "results", "seconds", "environment"}``; numbers are
written with six significant digits, keys sorted, so the file (and every page rendered from
it) is the same whichever machine wrote it, as long as the numbers agree to that precision.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import platform
import time
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterator

from derive.errors import DeriveError, InputError
from derive.lab.registry import EXPERIMENTS, check_name, experiment

Progress = Callable[[int, int], None]
THREADS = 1          # one thread: CPU reductions then sum in one order on every machine
DIGITS = 6           # significant digits of stored numbers

# The code paths of PyTorch's CPU kernels, pinned to ones every x86-64 machine of the last
# decade runs the same way.  Left to choose, ATen and oneDNN take the widest vector
# instructions the processor has (AVX-512 on one machine, AVX2 on another) and MKL takes a
# path by processor vendor; their roundings differ in the last bits, and a training run
# grows such a difference into a different model (a re-run on another machine then missed
# its stored results by 0.2 in accuracy).  Each library reads its variable once, when
# PyTorch first uses it: they are set before PyTorch is imported.
PINNED_KERNELS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                  "MKL_CBWR": "COMPATIBLE"}


class LabError(DeriveError):
    """An experiment could not run (a missing package) or a re-run disagrees."""


def results_dir() -> Path:
    """Where stored results live (inside the package, so they ship with it)."""
    return Path(str(resources.files("derive.lab") / "results"))


def result_path(name: str, full: bool = False) -> Path:
    check_name(name)  # names the known experiments if ``name`` is not one
    return results_dir() / f"{name}{'.full' if full else ''}.json"


def _pins() -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(PINNED_KERNELS.items()))


def pin_kernels() -> None:
    """Set :data:`PINNED_KERNELS` in the environment (before PyTorch is imported; an
    experiment run after that is refused by :func:`deterministic`)."""
    os.environ.update(PINNED_KERNELS)


def require_packages() -> None:
    """Fail with one clear line when the lab's optional packages are missing (PyTorch's
    kernels are pinned first: this may be what imports it)."""
    pin_kernels()
    missing = []
    for module, dist in (("torch", "torch"), ("sklearn", "scikit-learn")):
        try:
            __import__(module)
        except ImportError:
            missing.append(dist)
    if missing:
        raise LabError(f"running experiments needs {' and '.join(missing)}: "
                       "pip install -e '.[lab]' (the book builds from stored results without "
                       "them)")


def deterministic(seed: int, threads: int = THREADS) -> None:
    """Seed every generator and make PyTorch's CPU kernels deterministic."""
    import random

    import numpy as np
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in ("DEFAULT", "AVX2") or any(os.environ.get(k) != v
                                                    for k, v in PINNED_KERNELS.items()):
        raise LabError(f"PyTorch's CPU kernels are not pinned (capability {capability}): "
                       f"PyTorch was imported before the lab set {_pins()}; run the "
                       f"experiment with 'derive lab run' or set them first")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(threads)


def environment() -> dict[str, str]:
    """The machine and the package versions a record was produced with."""
    import numpy as np

    env = {"python": platform.python_version(), "numpy": np.__version__,
           "machine": platform.machine(), "system": platform.system(),
           "cpus": str(os.cpu_count() or 1), "processor": _cpu_model(),
           "kernels": _pins()}
    for module in ("torch", "sklearn"):
        try:
            env[module] = __import__(module).__version__
        except ImportError:
            env[module] = "not installed"
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run(name: str, *, full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    """Run experiment ``name`` (its ``QUICK`` or ``FULL`` configuration) and return the
    record to store."""
    require_packages()
    module = experiment(name)
    config = dict(module.FULL if full else module.QUICK)
    deterministic(int(config["seed"]), int(config.get("threads", THREADS)))
    start = time.perf_counter()
    results = module.run(config, progress or (lambda done, total: None))
    seconds = time.perf_counter() - start
    return {"name": name, "scale": "full" if full else "quick", "config": config,
            "scaling": "as posed" if full else module.SCALING, "exercises":
            list(module.EXERCISES), "title": module.TITLE, "results": _rounded(results),
            "seconds": round(seconds, 1), "environment": environment()}


def save(record: dict[str, Any]) -> Path:
    """Write ``record`` to its results file (atomically: a failed write keeps the old one)."""
    path = result_path(record["name"], record["scale"] == "full")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(dumps(record), encoding="utf-8")
    os.replace(tmp, path)
    return path


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(_rounded(record), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load(name: str, *, full: bool = False) -> dict[str, Any]:
    """The stored record of experiment ``name``.

    >>> load("gradient-flow")["name"]
    'gradient-flow'
    """
    path = result_path(name, full)
    if not path.is_file():
        raise InputError(f"no stored results for experiment {name!r} ({path.name}); run "
                         f"'derive lab run {name}'")
    return json.loads(path.read_text(encoding="utf-8"))


def compare(name: str, stored: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """Where a re-run's results differ from the stored ones beyond the experiment's
    tolerances (an empty list when they agree).

    >>> compare("gradient-flow", {"a": [1.0, 2.0]}, {"a": [1.0, 2.5]})
    ['a.1: stored 2.0, re-run 2.5 (tolerance 0)']
    """
    tolerances = getattr(experiment(name), "TOLERANCES", ())
    old, new = dict(_leaves(stored)), dict(_leaves(fresh))
    problems = [f"{p}: only in the stored results" for p in old if p not in new]
    problems += [f"{p}: only in the re-run" for p in new if p not in old]
    for path in (p for p in old if p in new):
        a, b = old[path], new[path]
        tol = next((t for pattern, t in tolerances if fnmatch.fnmatchcase(path, pattern)), 0)
        if tol is None:
            continue
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                and not isinstance(a, bool) and not isinstance(b, bool):
            if not (abs(a - b) <= tol or (math.isnan(a) and math.isnan(b))):
                problems.append(f"{path}: stored {a}, re-run {b} (tolerance {tol})")
        elif a != b:
            problems.append(f"{path}: stored {a!r}, re-run {b!r}")
    return problems


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k in sorted(value):
            yield from _leaves(value[k], f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}.{i}" if prefix else str(i))
    else:
        yield prefix, value


def _rounded(value: Any) -> Any:
    """``value`` with every float at :data:`DIGITS` significant digits (``-0.0`` as 0)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return value
        out = float(f"{value:.{DIGITS}g}")
        return 0.0 if out == 0 else out
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if hasattr(value, "item") and callable(value.item):   # NumPy / PyTorch scalars
        return _rounded(value.item())
    return value


def names() -> list[str]:
    return list(EXPERIMENTS)
