"""Side-by-side counts for one network at 224x224: torchinfo, fvcore, ptflops and derive.

    python scripts/compare_tools.py [--network resnet18|resnet50]

Prints a Markdown table (parameters, the tool's FLOP figure at 224x224, and derive's closed
form in H and W), then, per tool, the convention that explains its difference from derive's
multiply-add count.  Each explanation is an arithmetic identity computed here from derive's
own per-layer rows (element counts of batch norms, activations, poolings, biases) and it is
printed as "exactly" only when the numbers add up; otherwise the residual is shown.
Needs torch, torchvision, torchinfo, fvcore and ptflops.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections import Counter


def _components(analysis, point: dict) -> Counter:
    """Per-op element counts at ``point``: outputs of each op type, plus input elements of
    poolings and the bias adds of dense layers."""
    from derive.analysis.sizes import evaluate

    out: Counter = Counter()
    previous = None
    for r in analysis.rows:
        n = math.prod(evaluate(d, point) for d in r.shape)
        out[r.op] += n
        if r.op in ("MaxPool2d", "AdaptiveAvgPool2d") and previous is not None:
            out[r.op + " input"] += previous
        previous = n
        if r.op == "Linear":
            out["Linear bias"] += n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet18", choices=("resnet18", "resnet50"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import sympy
    import torch
    import torchinfo
    import torchvision
    from fvcore.nn import FlopCountAnalysis
    from ptflops import get_model_complexity_info

    from derive.analysis import analyze
    from derive.analysis.render import expr_text

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.network)(weights=None).eval()
    a = analyze(model, ("C", "H", "W"), check=False)
    H, W = a.symbols
    point = {H: 224, W: 224}
    macs = int(a.macs.subs(point))
    comp = _components(a, point)
    bn_params = sum(r.params for r in a.rows if r.op == "BatchNorm2d")

    x = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        info = torchinfo.summary(model, input_data=x, verbose=0)
        fv = FlopCountAnalysis(model, x)
        fv.unsupported_ops_warnings(False)
        fv.uncalled_modules_warnings(False)
        fv_total = fv.total()
        pt_macs, pt_params = get_model_complexity_info(
            model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, verbose=False,
            backend="pytorch")
        at_macs, _ = get_model_complexity_info(
            model, (3, 224, 224), as_strings=False, print_per_layer_stat=False, verbose=False,
            backend="aten")
    fv_params = sum(p.numel() for p in model.parameters())

    closed = expr_text(a.macs)
    print(f"**{args.network} at 224x224** (derive: `derive arch --torchvision {args.network}`)")
    print()
    print("| tool | parameters | FLOP figure at 224x224 | what the figure counts |")
    print("|---|--:|--:|---|")
    print(f"| derive | {a.params:,} | {macs:,} | multiply-adds of convolutions and dense "
          f"layers (`mac`); closed form `{closed}` |")
    print(f"| torchinfo {torchinfo.__version__ if hasattr(torchinfo, '__version__') else ''} | "
          f"{info.total_params:,} | {info.total_mult_adds:,} | \"mult-adds\" |")
    print(f"| fvcore | {fv_params:,} (sum of numel) | {fv_total:,} | \"flops\" |")
    print(f"| ptflops (pytorch backend) | {pt_params:,} | {pt_macs:,} | \"MACs\" |")
    print(f"| ptflops (aten backend) | {pt_params:,} | {at_macs:,} | \"MACs\" |")
    print()

    def explain(tool: str, value: int, parts: list[tuple[str, int]], convention: str) -> None:
        total = macs + sum(v for _, v in parts)
        terms = " + ".join(f"{label} ({v:,})" for label, v in parts)
        if total == value:
            verdict = "exactly"
        else:
            verdict = f"up to a residual of {value - total:,}"
        print(f"- **{tool}** = derive's {macs:,} + {terms} = {total:,}, {verdict}. "
              f"{convention}")

    explain("torchinfo", info.total_mult_adds,
            [("dense-layer bias adds", comp["Linear bias"]),
             ("one per batch-norm parameter", bn_params)],
            "Same multiply-add convention for convolutions; it adds the dense layer's bias and "
            "counts each batch norm by its parameter count, not by its elements.")
    explain("fvcore", fv_total,
            [("2 per batch-norm element", 2 * comp["BatchNorm2d"]),
             ("1 per adaptive-pool input element", comp["AdaptiveAvgPool2d input"])],
            "fvcore counts one multiply-add as one \"flop\" (so its figure is comparable to "
            "`mac`, not to `flop2`), adds batch norm at 2 per element and average pooling "
            "at 1 per input element, and ignores activations and residual sums.")
    explain("ptflops, pytorch backend", pt_macs,
            [("dense-layer bias adds", comp["Linear bias"]),
             ("2 per batch-norm element", 2 * comp["BatchNorm2d"]),
             ("2 x ReLU elements", 2 * comp["ReLU"]),
             ("2 x pooling input elements",
              2 * (comp["MaxPool2d input"] + comp["AdaptiveAvgPool2d input"]))],
            "ptflops counts MACs plus element-wise work; the factor 2 on activations and "
            "poolings is what the numbers require (consistent with each being counted by its "
            "module hook and again by its functional patch); residual sums are not counted.")
    explain("ptflops, aten backend", at_macs, [("dense-layer bias adds", comp["Linear bias"])],
            "Convolution and matrix-multiply MACs only, plus the dense layer's bias.")
    print(f"- derive with `--convention flop2` reports {2 * macs:,} (2 FLOPs per multiply-add); "
          f"with batch norms, poolings and residual sums at one multiply-add per element "
          f"(derive's `flops_all`) it is {int(a.macs_all.subs(point)):,} multiply-adds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
