"""From a PyTorch module to an ordered list of operations with their inputs.

``torch.fx`` symbolic tracing is tried first: it gives every operation (module calls,
functions such as ``torch.cat`` and ``+``, tensor methods such as ``view``) in execution
order.  A module fx cannot trace (data-dependent control flow, say) is run once with forward
hooks on its leaf modules instead (on the meta device, or on the CPU with a zero input when
it reads tensor values); the calls are chained by tensor identity, and a tensor produced
outside a leaf module becomes an ``opaque`` step (its shape is not derived).
:attr:`Trace.method` says which way was used and :attr:`Trace.note` why.

PyTorch is imported inside the functions, so importing this module does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from derive.errors import InputError

__all__ = ["Op", "Ref", "Trace", "trace_module"]


@dataclass(frozen=True)
class Ref:
    """A reference to the value produced by operation ``index``."""

    index: int


@dataclass
class Op:
    """One operation: ``kind`` is ``input``, ``call_module``, ``call_function``,
    ``call_method``, ``get_attr``, ``opaque`` or ``output``; ``args``/``kwargs`` hold
    :class:`Ref` where an earlier operation's value goes."""

    index: int
    name: str
    kind: str
    target: Any
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    module: Any = None          # the nn.Module of a call_module, the tensor of a get_attr
    observed: Any = None        # opaque steps: the shape seen in the hook run


@dataclass
class Trace:
    """The operations of a module, how they were found, and the fx graph when fx worked."""

    ops: list[Op]
    method: str                 # "fx" or "hooks"
    note: str = ""
    graph_module: Any = None


def _refs(value: Any, index_of: dict) -> Any:
    import torch.fx

    return map_leaves(value, lambda v: Ref(index_of[v]) if isinstance(v, torch.fx.Node) else v)


def map_leaves(value: Any, leaf: Any) -> Any:
    """``value`` with ``leaf`` applied inside its tuples, lists, dicts and slices.

    >>> map_leaves((1, [2, {"k": 3}], slice(4, None)), lambda v: v * 10 if v else v)
    (10, [20, {'k': 30}], slice(40, None, None))
    """
    if isinstance(value, tuple):
        return tuple(map_leaves(v, leaf) for v in value)
    if isinstance(value, list):
        return [map_leaves(v, leaf) for v in value]
    if isinstance(value, dict):
        return {k: map_leaves(v, leaf) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(map_leaves(value.start, leaf), map_leaves(value.stop, leaf),
                     map_leaves(value.step, leaf))
    return leaf(value)


def _fx(module: Any) -> Trace:
    import torch.fx

    gm = torch.fx.symbolic_trace(module)
    ops: list[Op] = []
    index_of: dict = {}
    for node in gm.graph.nodes:
        index_of[node] = len(ops)
        kind = "input" if node.op == "placeholder" else node.op
        mod = None
        if node.op == "call_module":
            mod = gm.get_submodule(node.target)
        elif node.op == "get_attr":
            mod = _attr(gm, node.target)
        ops.append(Op(len(ops), node.name if node.op != "call_module" else str(node.target),
                      kind, node.target, _refs(tuple(node.args), index_of),
                      _refs(dict(node.kwargs), index_of), mod))
    return Trace(ops, "fx", graph_module=gm)


def _attr(root: Any, target: str) -> Any:
    obj = root
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def run_copy(module: Any, example_shape: tuple[int, ...], hook: Any) -> tuple[Any, str]:
    """Run a copy of ``module`` with ``hook(name, mod, args, output, input)`` on its leaf
    modules: on the meta device, or on the CPU with a zero input when the module reads
    tensor values (``.item()``, a branch on data); ``hook(None, ...)`` means the meta run
    failed and the CPU run starts.  Returns the output and the device used."""
    import copy

    import torch

    for device in ("meta", "cpu"):
        copied = copy.deepcopy(module).to(device).eval()
        x = torch.zeros(example_shape, device=device)
        handles = []
        for name, m in copied.named_modules():
            if next(iter(m.children()), None) is None:
                handles.append(m.register_forward_hook(
                    lambda mod, a, o, name=name: hook(name, mod, a, o, x)))
        try:
            with torch.no_grad():
                return copied(x), device
        except Exception:
            if device == "cpu":
                raise
            hook(None, None, None, None, None)   # start again
        finally:
            for h in handles:
                h.remove()
    raise AssertionError("unreachable")


def _hooks(module: Any, example_shape: tuple[int, ...], reason: str) -> Trace:
    """Leaf-module calls of one run, chained by tensor identity."""
    import torch

    ops: list[Op] = [Op(0, "x", "input", "x")]
    producer: dict[int, int] = {}
    keep: list[Any] = []        # keep tensors alive so their ids stay unique

    def ref(t: Any) -> Any:
        if isinstance(t, torch.Tensor):
            if id(t) not in producer:
                producer[id(t)] = len(ops)
                keep.append(t)
                ops.append(Op(len(ops), f"opaque_{len(ops)}", "opaque", None,
                              observed=tuple(t.shape)))
            return Ref(producer[id(t)])
        if isinstance(t, (list, tuple)):
            return type(t)(ref(v) for v in t)
        return t

    def hook(name: Any, mod: Any, args: Any, output: Any, x: Any) -> None:
        if name is None:            # the meta run failed: forget it
            del ops[1:]
            producer.clear()
            keep.clear()
            return
        if id(x) not in producer:
            producer[id(x)] = 0
            keep.append(x)
        refs = ref(tuple(args))
        keep.append(output)
        op = Op(len(ops), name, "call_module", name, refs, {}, mod)
        ops.append(op)
        if isinstance(output, torch.Tensor):
            producer[id(output)] = op.index

    out, device = run_copy(module, example_shape, hook)
    ops.append(Op(len(ops), "output", "output", "output", (ref(out),)))
    where = "the meta device" if device == "meta" else \
        "the CPU (the meta device cannot run it: it reads tensor values)"
    note = (f"torch.fx could not trace the module ({reason}); its leaf modules were recorded "
            f"with forward hooks in one run on {where} instead, and values made outside "
            "them are opaque")
    return Trace(ops, "hooks", note=note)


def trace_module(module: Any, example_shape: tuple[int, ...]) -> Trace:
    """Trace ``module`` with fx, or fall back to forward hooks (saying so in ``note``)."""
    import torch

    if not isinstance(module, torch.nn.Module):
        raise InputError(f"got module={module!r}; analyze needs a torch.nn.Module")
    try:
        return _fx(module)
    except Exception as exc:  # fx raises many kinds (TraceError, TypeError, ...)
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return _hooks(module, example_shape, reason)
