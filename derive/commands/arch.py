"""``derive arch``: a derived summary of a catalog network (parameters, FLOPs, shapes,
receptive fields), the catalog's names, or EfficientNet's scaling rule against the
published coefficients."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "arch", help="parameters, FLOPs, shapes and receptive fields of a classic network",
        description="Derive a layer-by-layer summary of a catalog network (torchvision "
                    "layouts): learnable parameters, FLOPs at the input size in a stated "
                    "convention, output shapes and receptive fields. Exit codes: 0 success, "
                    "2 bad input.")
    p.add_argument("name", nargs="?", help="a catalog name, e.g. resnet50 (see --list)")
    p.add_argument("--list", action="store_true", help="print the catalog's names")
    p.add_argument("--json", action="store_true",
                   help="print params, flops {value, convention}, receptive_field "
                        "{size, jump, start} and the per-layer rows as JSON")
    p.add_argument("--convention", choices=("mac", "flop2"), default="mac",
                   help="FLOP convention: 'mac' counts multiply-adds (default), 'flop2' counts "
                        "one multiply-add as 2 FLOPs")
    p.add_argument("--input-size", type=int, default=None, metavar="N",
                   help="square input side (default 224)")
    p.add_argument("--module", metavar="FILE.py:Class", default=None,
                   help="analyze your own PyTorch network: the class (built without "
                        "arguments) in a Python file; needs torch")
    p.add_argument("--torchvision", metavar="NAME", default=None,
                   help="analyze a torchvision model by name (no weights), e.g. resnet50; "
                        "needs torchvision")
    p.add_argument("--input", default="3,H,W", metavar="C,H,W",
                   help="input shape for --module/--torchvision: numbers or names, a batch "
                        "size optional in front (default 3,H,W)")
    p.add_argument("--format", choices=("table", "markdown", "latex"), default="table",
                   help="output of --module/--torchvision (default table; --json overrides)")
    p.add_argument("--no-check", action="store_true",
                   help="skip the symbolic and meta-device cross-checks")
    p.add_argument("--scaling", action="store_true",
                   help="EfficientNet's compound-scaling rule against the published B1..B7 "
                        "coefficients (relative errors)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from derive.errors import InputError

    if args.list:
        from derive.arch.catalog import names
        if args.json:
            print(json.dumps(list(names())))
        else:
            print("\n".join(names()))
        return 0
    if args.scaling:
        return _scaling(args.json)
    if args.module or args.torchvision:
        return _analyze(args)
    if not args.name:
        raise InputError("give an architecture name (derive arch --list names them), "
                         "--list, --scaling, --module FILE.py:Class or --torchvision NAME")
    from derive.arch.catalog import architecture
    from derive.arch.summary import summarize

    summary = summarize(architecture(args.name), convention=args.convention,
                        input_size=args.input_size)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    else:
        print(summary.table())
    return 0


def _load_module(spec: str) -> object:
    """Build ``Class()`` from ``FILE.py:Class``; every mistake is an InputError."""
    import importlib.util
    import pathlib

    from derive.errors import InputError

    path_text, sep, cls_name = spec.rpartition(":")
    if not sep or not path_text or not cls_name:
        raise InputError(f"got --module {spec!r}; write FILE.py:ClassName")
    path = pathlib.Path(path_text)
    if not path.is_file():
        raise InputError(f"got --module {spec!r}: no file {str(path)!r}")
    loader = importlib.util.spec_from_file_location(f"_derive_user_{path.stem}", path)
    if loader is None or loader.loader is None:
        raise InputError(f"got --module {spec!r}: {str(path)!r} is not a Python file")
    mod = importlib.util.module_from_spec(loader)
    try:
        loader.loader.exec_module(mod)
    except Exception as exc:
        raise InputError(f"got --module {spec!r}: importing {str(path)!r} failed "
                         f"({type(exc).__name__}: {exc})") from exc
    cls = getattr(mod, cls_name, None)
    if cls is None:
        raise InputError(f"got --module {spec!r}: {str(path)!r} defines no {cls_name!r}")
    try:
        return cls()
    except Exception as exc:
        raise InputError(f"got --module {spec!r}: {cls_name}() failed "
                         f"({type(exc).__name__}: {exc}); the class must build without "
                         "arguments") from exc


def _torchvision(name: str) -> object:
    from derive.errors import InputError

    try:
        import torchvision.models as models
    except Exception as exc:
        raise InputError(f"got --torchvision {name!r}, but torchvision is not installed or "
                         f"does not import ({type(exc).__name__}); install the extra: pip "
                         "install 'derive[vision]'") from exc
    try:
        return models.get_model(name, weights=None)
    except Exception as exc:
        raise InputError(f"got --torchvision {name!r}: not a torchvision model name "
                         f"({exc})") from exc


def _analyze(args: argparse.Namespace) -> int:
    import sys

    from derive.errors import InputError

    if args.module and args.torchvision:
        raise InputError("give --module or --torchvision, not both")
    option = "--module" if args.module else "--torchvision"
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise InputError(f"{option} needs PyTorch, which is not installed; install the "
                         "extra: pip install 'derive[torch]'") from exc
    from derive.analysis import analyze

    module = _load_module(args.module) if args.module else _torchvision(args.torchvision)
    entries = [e.strip() for e in args.input.split(",") if e.strip()]
    if not entries:
        raise InputError(f"got --input {args.input!r}; write e.g. 3,H,W")
    name = args.torchvision or args.module.rpartition(":")[2]
    result = analyze(module, tuple(entries), convention=args.convention,
                     check=not args.no_check, progress=sys.stderr.isatty(), name=name)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True, ensure_ascii=False))
    elif args.format == "markdown":
        print(result.markdown())
    elif args.format == "latex":
        print(result.latex())
    else:
        print(result.table())
    return 0


def _scaling(as_json: bool) -> int:
    from derive.arch.scaling import compare_published, constraint_product

    rows = compare_published()
    product = constraint_product()
    if as_json:
        print(json.dumps({"constraint_product": {"value": str(product), "float": float(product),
                                                 "target": 2},
                          "rows": [r.to_dict() for r in rows]}, indent=2, sort_keys=True))
        return 0
    print(f"rule: d = alpha^phi, w = beta^phi, r = gamma^phi; alpha*beta^2*gamma^2 = "
          f"{product} = {float(product):.5f} (target 2)")
    print("published coefficients against the rule at phi = model number "
          "(relative error = (published - rule)/rule):")
    header = f"{'model':<6}{'depth rule/pub/err':>26}{'width rule/pub/err':>26}" \
             f"{'resolution rule/pub/err':>30}{'FLOPs x rule/pub':>20}"
    print(header)
    for r in rows:
        print(f"{r.model:<6}"
              f"{float(r.depth_rule):>9.3f}{float(r.depth_published):>7.2f}"
              f"{float(r.depth_error):>+10.1%}"
              f"{float(r.width_rule):>9.3f}{float(r.width_published):>7.2f}"
              f"{float(r.width_error):>+10.1%}"
              f"{float(r.resolution_rule):>12.1f}{float(r.resolution_published):>8.0f}"
              f"{float(r.resolution_error):>+10.1%}"
              f"{float(r.flops_rule):>10.2f}{float(r.flops_published):>10.2f}")
    print("the published models do not follow the rule at integer phi; neither side is adjusted")
    return 0
