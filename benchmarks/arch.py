"""Parameter and FLOP tables of the six catalog networks, and how long deriving them takes.

Prints (to stderr, so ``--json`` output stays clean) the derived parameters, buffers,
multiply-adds and receptive fields of the six networks, and EfficientNet B1..B7 built from
the published coefficients against the compound-scaling rule.  Timed: one full summary per
network (shapes, costs and per-layer receptive fields), against PyTorch building the same
network on the meta device and counting its parameters and FLOPs (when PyTorch is installed;
the torch.nn mirrors live in tests/test_arch_torch.py).
"""

from __future__ import annotations

import sys
from typing import Any

from benchmarks._timing import measure, print_table, row


def _print(text: str = "") -> None:
    print(text, file=sys.stderr)


def _tables() -> None:
    from derive.arch.catalog import architecture, efficientnet, names
    from derive.arch.scaling import compare_published, published
    from derive.arch.summary import summarize

    _print(f"{'network':16}{'params':>14}{'BN buffers':>12}{'mult-adds (conv+dense)':>25}"
           f"{'FLOPs (x2)':>17}{'all-layer MACs':>17}{'RF size/jump/start':>21}")
    for name in names():
        s = summarize(architecture(name), convention="mac")
        rf = s.receptive_field
        _print(f"{name:16}{s.params:>14,}{s.buffers:>12,}{s.flops:>25,}{2 * s.flops:>17,}"
               f"{s.flops_all:>17,}{f'{rf.size}/{rf.jump}/{rf.start}':>21}")
    _print("(multiply-adds at 224x224; 'FLOPs (x2)' counts one multiply-add as 2 FLOPs)")
    _print()
    coefficients = published()
    base = summarize(efficientnet(), convention="mac")
    rule = {r.model: r for r in compare_published()}
    _print("EfficientNet from the published coefficients; FLOP multiplier vs B0: derived from the"
           " spec, and the rule's (alpha*beta^2*gamma^2)^phi")
    _print(f"{'model':6}{'width':>7}{'depth':>7}{'res':>6}{'params':>13}{'mult-adds':>17}"
           f"{'x derived':>11}{'x rule':>9}")
    for model, c in coefficients.items():
        arch = efficientnet(c["width"], c["depth"], name=f"efficientnet_{model}")
        s = summarize(arch, convention="mac", input_size=int(c["resolution"]))
        ratio = s.flops / base.flops
        rule_x = f"{float(rule[model].flops_rule):9.2f}" if model in rule else f"{1:9.2f}"
        _print(f"{model:6}{float(c['width']):>7.1f}{float(c['depth']):>7.1f}"
               f"{int(c['resolution']):>6}{s.params:>13,}{s.flops:>17,}{ratio:>11.2f}{rule_x}")
    _print()


def _torch_count(name: str) -> Any:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from tests.test_arch_torch import BUILDERS  # the plain torch.nn mirrors
    with torch.device("meta"):
        model = BUILDERS[name]().eval()
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, 224, 224, device="meta"))
    return params, counter.get_total_flops()


def _torch_available() -> bool:
    try:
        import torch  # noqa: F401
        import tests.test_arch_torch  # noqa: F401
    except Exception:
        return False
    return True


def run(quick: bool = False) -> list[dict[str, Any]]:
    from derive.arch.catalog import architecture, names
    from derive.arch.summary import summarize
    from derive.conv.costs import cost_theorems

    _tables()
    reps = 3 if quick else 9
    have_torch = _torch_available()
    rows = []
    for name in names():
        ours = measure(lambda n=name: summarize(architecture(n), convention="mac"), reps)
        if have_torch:
            _torch_count(name)  # warm-up: imports and first-call costs
            theirs = measure(lambda n=name: _torch_count(n), reps)
            rows.append(row(f"arch summary {name} (rows, costs, RFs)", ours,
                            "PyTorch meta build + count", theirs))
        else:
            rows.append(row(f"arch summary {name} (rows, costs, RFs)", ours))
    theorems = measure(lambda: [t.check() for t in cost_theorems()], 1 if quick else 3)
    rows.append(row(f"cost theorems: build and check {len(cost_theorems())}", theorems))
    return rows


if __name__ == "__main__":
    print_table(run(quick="--quick" in sys.argv))
