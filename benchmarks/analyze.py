"""derive.analyze on ResNet-50 (symbolic, every layer) against torchinfo's numeric summary.

Both run in the same process on the same model (torchvision's resnet50, no weights):
``analyze(model, ("C", "H", "W"), check=False)`` derives every layer's shape as a closed
form in H and W, receptive fields, parameters, FLOPs and the valid-size conditions;
``torchinfo.summary(model, (1, 3, 224, 224))`` runs the network once at 224x224 on the CPU.
The target is a ratio of at most 2.  The cross-checks (checker on each floor step, meta-device
runs at 5+ sizes) are timed as a separate row.  Skipped, with the reason on stderr, when
torchvision or torchinfo is not installed.

    python -m benchmarks.analyze [--quick]
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import measure, print_table, row


def _missing() -> str | None:
    for name in ("torch", "torchvision", "torchinfo"):
        try:
            __import__(name)
        except Exception as exc:  # torchvision may be installed but not import
            return f"{name} is not usable ({type(exc).__name__}: {exc})"
    return None


def run(quick: bool = False) -> list[dict[str, Any]]:
    why = _missing()
    if why:
        print(f"analyze benchmark skipped: {why}", file=sys.stderr)
        return []
    import torch
    import torchinfo
    import torchvision

    from derive.analysis import analyze
    from derive.analysis.crosscheck import crosscheck

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    reps = 3 if quick else 7

    def ours() -> Any:
        return analyze(model, ("C", "H", "W"), check=False)

    def theirs() -> Any:
        with torch.no_grad():
            return torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)

    ours()      # warm-up: imports and first-call costs on both sides
    theirs()
    ours_s, theirs_s = [], []
    for _ in range(reps):   # interleaved, so load on the machine hits both alike
        ours_s += measure(ours, 1)
        theirs_s += measure(theirs, 1)
    result = ours()
    checks_s = measure(lambda: crosscheck(result), 1 if quick else 3)
    H, W = result.symbols
    print(f"resnet50: {len(result.rows)} rows, params {result.params:,}, multiply-adds at "
          f"224x224 {int(result.macs.subs({H: 224, W: 224})):,}", file=sys.stderr)
    return [row("analyze resnet50 (symbolic, all layers)", ours_s,
                "torchinfo.summary at 224x224", theirs_s),
            row("torchinfo.summary resnet50 at 224x224 (one numeric summary)", theirs_s),
            row("analyze resnet50 cross-checks (checker + meta runs)", checks_s)]


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
