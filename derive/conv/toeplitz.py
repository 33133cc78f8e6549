"""Convolution as a matrix: the (doubly block) Toeplitz view, built from the indexed-sum model.

Design rule: the matrix is *read off the model*, never typed in.  The model
(:mod:`derive.conv.model`) says output ``y[o, i, j]`` reads the padded input at channel
``chan(o, c)`` and positions ``(S*i + D*u, S*j + D*v)``; subtracting the padding gives the
input column, and that column of row ``(o, i, j)`` receives ``w[o, c, u, v]`` (taps that land
in the padding multiply zeros and are dropped).  Rows and columns are flattened row-major,
``(C_out, H_out, W_out)`` and ``(C_in, H, W)``, so the single-channel 2D matrix is doubly
block Toeplitz (Dumoulin & Visin's 4x16 example) and channels and groups give a block
matrix (zero blocks between groups).

Numbers in, NumPy out (delegated to :mod:`derive.numeric.toeplitz`, the sparse builder);
SymPy entries in, an immutable SymPy matrix out.  :func:`prove_conv_matrix` checks
``W @ vec(x)`` against the model's own expansion entry by entry with the checker;
:func:`toeplitz_proof_1d` proves it for symbolic sizes with the re-indexing rules of
:mod:`derive.check.reindex`.

>>> import sympy
>>> a, b, c = sympy.symbols("a b c")
>>> conv_matrix(4, [a, b, c])
Matrix([
[a, b, c, 0],
[0, a, b, c]])
>>> conv_matrix(4, [1, 0, -1], stride=2, padding=1)
array([[ 0., -1.,  0.,  0.],
       [ 0.,  1.,  0., -1.]])
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import sympy

from derive.check.verdict import Status, Verdict
from derive.conv.model import C_, I_, J_, O_, U_, V_, ConvModel, conv_model
from derive.errors import ConfigurationError, InputError, check_positive_int

__all__ = [
    "ParameterCount",
    "conv_matrix",
    "conv_matrix_2d",
    "free_parameters",
    "parameter_count",
    "proof_sides",
    "prove_conv_matrix",
    "prove_conv_matrix_2d",
    "prove_conv_matrix_bounded",
    "symbolic_kernel",
    "toeplitz_entry",
    "toeplitz_proof_1d",
]


# --------------------------------------------------------------------------- inputs

def _is_sympy(v: Any) -> bool:
    return isinstance(v, sympy.Basic)


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Number) and not isinstance(v, bool)


def _to_sympy(v: Any) -> sympy.Expr:
    if _is_sympy(v):
        return v
    if isinstance(v, numbers.Integral):
        return sympy.Integer(int(v))
    if isinstance(v, numbers.Rational):
        return sympy.Rational(int(v.numerator), int(v.denominator))
    if isinstance(v, numbers.Real):
        return sympy.Float(float(v))
    raise InputError(f"got kernel entry {v!r}; expected a number or a SymPy expression")


def _as_object_array(kernel: Any, name: str = "kernel") -> Any:
    import numpy as np

    if isinstance(kernel, str):
        raise InputError(f"got {name}={kernel!r}; expected a sequence of numbers or SymPy "
                         "expressions (text is never evaluated)")
    if isinstance(kernel, sympy.MatrixBase):
        return np.array(kernel.tolist(), dtype=object)
    try:
        arr = np.array(kernel, dtype=object)
    except (ValueError, TypeError) as exc:
        raise InputError(f"got {name}={kernel!r}; expected a rectangular array ({exc})") from None
    for v in arr.ravel():
        if not (_is_sympy(v) or _is_number(v)):
            raise InputError(f"got {name} entry {v!r}; expected a number or a SymPy expression")
    return arr


def _symbolic(arr: Any) -> bool:
    return any(_is_sympy(v) for v in arr.ravel())


def symbolic_kernel(shape: Sequence[int], name: str = "w") -> Any:
    """A kernel of indexed symbols ``w[...]`` (a list for 1D, a nested list otherwise), the
    arrays of the indexed-sum model.

    >>> symbolic_kernel((3,))
    [w[0], w[1], w[2]]
    >>> symbolic_kernel((1, 1, 1, 2))
    [[[[w[0, 0, 0, 0], w[0, 0, 0, 1]]]]]
    """
    base = sympy.IndexedBase(name)
    dims = [check_positive_int(f"shape[{k}]", s) for k, s in enumerate(shape)]

    def build(prefix: tuple[int, ...]) -> Any:
        if len(prefix) == len(dims):
            return base[prefix] if len(prefix) > 1 else base[prefix[0]]
        return [build(prefix + (k,)) for k in range(dims[len(prefix)])]
    return build(())


# --------------------------------------------------------------------------- the index map

@dataclass(frozen=True)
class _Layout:
    """Sizes of one concrete convolution and where each weight lands."""

    model: ConvModel
    out_hw: tuple[int, ...]
    entries: tuple[tuple[int, int, tuple[int, ...]], ...]   # (row, col, weight index)
    shape: tuple[int, int]


def _model(size: tuple[int, ...], kernel: tuple[int, ...], stride: Any, padding: Any,
           dilation: Any, in_channels: int, out_channels: int, groups: int) -> ConvModel:
    dims = len(size)
    return conv_model(dims, size=size, kernel=kernel, stride=stride, padding=padding,
                      dilation=dilation, batch=1, in_channels=in_channels,
                      out_channels=out_channels, groups=groups, bias=False)


def _layout(model: ConvModel) -> _Layout:
    """Read the non-zero pattern off the model's padded-input access ``x_pad[n, chan, pos]``."""
    from derive.check.reindex import linear_coefficient

    dims = model.dims
    access = model.padded_access()
    chan_expr = access.indices[1]
    out_hw = tuple(int(model.derive_output_size(a).count) for a in range(dims))
    outs, taps = (I_, J_)[:dims], (U_, V_)[:dims]
    coeffs = []
    for a in range(dims):
        idx = access.indices[2 + a]
        ci = linear_coefficient(idx, outs[a])
        ct = linear_coefficient(idx - ci[0] * outs[a], taps[a]) if ci else None
        if ci is None or ct is None or ct[1] != 0:
            raise ConfigurationError(f"window index {idx} is not S*i + D*u")  # pragma: no cover
        coeffs.append((int(ci[0]), int(ct[0])))
    size = tuple(int(s) for s in model.size)
    pad = tuple(int(p) for p in model.padding)
    kernel = tuple(int(k) for k in model.kernel)
    cout, cin = int(model.out_channels), int(model.in_channels)
    cg = cin // int(model.groups)
    entries = []
    for o in range(cout):
        chans = [int(chan_expr.xreplace({O_: o, C_: c})) for c in range(cg)]
        for pos in itertools.product(*(range(h) for h in out_hw)):
            row = o
            for a in range(dims):
                row = row * out_hw[a] + pos[a]
            for c in range(cg):
                for tap in itertools.product(*(range(k) for k in kernel)):
                    col = chans[c]
                    inside = True
                    for a in range(dims):
                        q = coeffs[a][0] * pos[a] + coeffs[a][1] * tap[a] - pad[a]
                        if not 0 <= q < size[a]:
                            inside = False
                            break
                        col = col * size[a] + q
                    if inside:
                        entries.append((row, col, (o, c) + tap))
    rows = cout * _prod(out_hw)
    cols = cin * _prod(size)
    return _Layout(model, out_hw, tuple(entries), (rows, cols))


def _prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def _sympy_matrix(layout: _Layout, weight: Any) -> sympy.ImmutableMatrix:
    data: dict[tuple[int, int], Any] = {}
    for row, col, widx in layout.entries:
        value = _to_sympy(weight[widx])
        data[(row, col)] = data.get((row, col), 0) + value
    rows, cols = layout.shape
    return sympy.ImmutableMatrix(sympy.SparseMatrix(rows, cols, data))


# --------------------------------------------------------------------------- public builders

def conv_matrix(n: int, kernel: Sequence[Any], padding: int = 0, stride: int = 1,
                dilation: int = 1) -> Any:
    """The Toeplitz matrix ``W`` of a 1D cross-correlation of a length-``n`` input:
    ``W @ x`` is the output (length ``floor((n + 2p - d(k-1) - 1)/s) + 1``).

    A kernel of numbers gives a NumPy array; a kernel with SymPy entries an immutable
    SymPy matrix.

    >>> conv_matrix(6, [1, 0, -1]) @ [2, 1, 3, 0, 4, 2]
    array([-1.,  1., -1., -2.])
    >>> conv_matrix(2, [1, 2, 3])
    Traceback (most recent call last):
    ...
    derive.errors.ConfigurationError: got kernel=3 (effective width 3) wider than the padded input 2 on axis 0; the kernel must fit inside the padded input
    """
    n = check_positive_int("n", n)
    arr = _as_object_array(kernel)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"got kernel with shape {arr.shape}; a 1D kernel is a non-empty "
                         "sequence")
    padding = check_positive_int("padding", padding, minimum=0)
    stride = check_positive_int("stride", stride)
    dilation = check_positive_int("dilation", dilation)
    model = _model((n,), (arr.size,), stride, padding, dilation, 1, 1, 1)
    if not _symbolic(arr):
        import numpy as np

        from derive.numeric import conv1d_matrix
        values = np.array([float(v) if not isinstance(v, numbers.Integral) else int(v)
                           for v in arr])
        return conv1d_matrix(n, values, stride=stride, padding=padding,
                             dilation=dilation).toarray()
    layout = _layout(model)
    weight = {(0, 0, u): arr[u] for u in range(arr.size)}
    return _sympy_matrix(layout, weight)


def conv_matrix_2d(input_size: Sequence[int], kernel: Any, padding: Any = 0, stride: Any = 1,
                   dilation: Any = 1, groups: int = 1) -> Any:
    """The doubly block Toeplitz matrix of a 2D cross-correlation, row-major flattening.

    ``kernel`` is ``(kh, kw)`` (one channel in and out) or ``(C_out, C_in/groups, kh, kw)``
    (block matrix over the channels, zero blocks between groups); the matrix has shape
    ``(C_out*H_out*W_out, C_in*H*W)``.  Numbers give NumPy, SymPy entries a SymPy matrix.

    >>> w = symbolic_kernel((3, 3))
    >>> m = conv_matrix_2d((4, 4), w)
    >>> m.shape
    (4, 16)
    >>> list(m[0, :])
    [w[0, 0], w[0, 1], w[0, 2], 0, w[1, 0], w[1, 1], w[1, 2], 0, w[2, 0], w[2, 1], w[2, 2], 0, 0, 0, 0, 0]
    """
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) \
            or len(input_size) != 2:
        raise InputError(f"got input_size={input_size!r}; expected (H, W)")
    size = (check_positive_int("input_size[0]", input_size[0]),
            check_positive_int("input_size[1]", input_size[1]))
    arr = _as_object_array(kernel)
    if arr.ndim == 2:
        arr = arr.reshape((1, 1) + arr.shape)
    if arr.ndim != 4 or arr.size == 0:
        raise InputError(f"got kernel with shape {arr.shape}; expected (kh, kw) or "
                         "(C_out, C_in/groups, kh, kw)")
    groups = check_positive_int("groups", groups)
    cout, cg, kh, kw = arr.shape
    cin = cg * groups
    if cout % groups:
        raise ConfigurationError(f"got groups={groups} with {cout} output channels; groups "
                                 "must divide the number of output channels")
    model = _model(size, (kh, kw), stride, padding, dilation, cin, cout, groups)
    if not _symbolic(arr):
        import numpy as np

        from derive.numeric import conv2d_matrix
        values = np.array(arr.tolist(), dtype=float)
        return conv2d_matrix((cin,) + size, values, stride=_pair(stride), padding=_pair(padding),
                             dilation=_pair(dilation), groups=groups).toarray()
    layout = _layout(model)
    weight = {idx: arr[idx] for idx in itertools.product(*(range(s) for s in arr.shape))}
    return _sympy_matrix(layout, weight)


def _pair(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


# --------------------------------------------------------------------------- parameters

@dataclass(frozen=True)
class ParameterCount:
    """Distinct free parameters of a convolution matrix against a dense matrix of its shape."""

    conv: int
    dense: int
    shape: tuple[int, int]

    @property
    def ratio(self) -> sympy.Rational:
        return sympy.Rational(self.dense, self.conv)


def free_parameters(matrix: Any) -> int:
    """Number of distinct symbols (indexed entries count one each) among the entries.

    >>> a, b = sympy.symbols("a b")
    >>> free_parameters(sympy.Matrix([[a, b, 0], [0, a, b]]))
    2
    """
    if not isinstance(matrix, sympy.MatrixBase):
        raise InputError(f"got {type(matrix).__name__}; free parameters are counted on a "
                         "SymPy matrix with symbolic entries")
    found: set = set()
    for e in matrix:
        if not isinstance(e, sympy.Basic):
            continue
        indexed = e.atoms(sympy.Indexed)
        found |= indexed
        labels = {i.base.label for i in indexed} | {s for i in indexed for s in i.free_symbols}
        found |= {s for s in e.free_symbols if s not in labels}
    return len(found)


def parameter_count(n: int, kernel_size: int, padding: int = 0, stride: int = 1,
                    dilation: int = 1) -> ParameterCount:
    """Free parameters of the symbolic Toeplitz matrix vs a dense layer of the same shape
    (exercise 8.1(c)).

    >>> parameter_count(6, 3)
    ParameterCount(conv=3, dense=24, shape=(4, 6))
    """
    k = check_positive_int("kernel_size", kernel_size)
    m = conv_matrix(n, symbolic_kernel((k,)), padding, stride, dilation)
    rows, cols = m.shape
    return ParameterCount(free_parameters(m), rows * cols, (rows, cols))


# --------------------------------------------------------------------------- proofs

def _vector(entries: Sequence[Any]) -> sympy.ImmutableMatrix:
    return sympy.ImmutableMatrix(len(entries), 1, list(entries))


def proof_sides(n: int, kernel_size: int, padding: int = 0, stride: int = 1,
                dilation: int = 1) -> tuple[sympy.ImmutableMatrix, sympy.ImmutableMatrix]:
    """``(W @ x, y)``: the symbolic Toeplitz matrix times ``x`` and the model's expansion of
    every output, both in the model's arrays ``w[0, 0, u]`` and ``x[0, 0, j]``."""
    model = _model((n,), (kernel_size,), stride, padding, dilation, 1, 1, 1)
    w = [model.w[0, 0, u] for u in range(kernel_size)]
    x = _vector([model.x[0, 0, j] for j in range(n)])
    lhs = sympy.ImmutableMatrix(conv_matrix(n, w, padding, stride, dilation) * x)
    out = model.output_shape[2]
    rhs = _vector([model.expand((0, 0, i)) for i in range(out)])
    return lhs, rhs


def prove_conv_matrix(n: int, kernel_size: int, padding: int = 0, stride: int = 1,
                      dilation: int = 1) -> Verdict:
    """Check ``conv_matrix(...) @ x`` against the model's expansion, entry by entry.

    >>> prove_conv_matrix(6, 3).status.value
    'proved'
    """
    from derive.check.engine import check_exprs
    return check_exprs(*proof_sides(n, kernel_size, padding, stride, dilation))


def prove_conv_matrix_2d(size: tuple[int, int], kernel_size: tuple[int, int], padding: Any = 0,
                         stride: Any = 1, dilation: Any = 1, in_channels: int = 1,
                         out_channels: int = 1, groups: int = 1) -> Verdict:
    """Check ``conv_matrix_2d(...) @ vec(x)`` against the model's expansion (channels and
    groups included), entry by entry.

    >>> prove_conv_matrix_2d((4, 4), (3, 3)).status.value
    'proved'
    """
    model = _model(tuple(size), tuple(kernel_size), stride, padding, dilation, in_channels,
                   out_channels, groups)
    wshape = model.weight_shape
    w = [[[[model.w[o, c, u, v] for v in range(wshape[3])] for u in range(wshape[2])]
          for c in range(wshape[1])] for o in range(wshape[0])]
    x = _vector([model.x[(0,) + idx] for idx in itertools.product(
        range(in_channels), range(size[0]), range(size[1]))])
    lhs = sympy.ImmutableMatrix(
        conv_matrix_2d(size, w, padding, stride, dilation, groups) * x)
    _, cout, ho, wo = model.output_shape
    rhs = _vector([model.expand((0, o, i, j)) for o in range(cout) for i in range(ho)
                   for j in range(wo)])
    from derive.check.engine import check_exprs
    return check_exprs(lhs, rhs)


def valid_configurations(max_n: int, max_k: int, max_s: int, max_d: int,
                         max_p: int) -> Iterator[tuple[int, int, int, int, int]]:
    """Every 1D ``(n, k, s, d, p)`` up to the bounds whose dilated kernel fits the padded
    input (the configurations the bounded proofs range over).

    >>> list(valid_configurations(2, 2, 1, 1, 0))
    [(1, 1, 1, 1, 0), (2, 1, 1, 1, 0), (2, 2, 1, 1, 0)]
    """
    for n, k, s, d, p in itertools.product(range(1, max_n + 1), range(1, max_k + 1),
                                           range(1, max_s + 1), range(1, max_d + 1),
                                           range(0, max_p + 1)):
        if d * (k - 1) + 1 <= n + 2 * p:
            yield n, k, s, d, p


def prove_conv_matrix_bounded(max_n: int = 8, max_k: int = 4, max_s: int = 3,
                              max_d: int = 2, max_p: int = 2) -> Verdict:
    """:func:`prove_conv_matrix` for every 1D configuration up to the bounds (those whose
    dilated kernel fits in the padded input), combined into one verdict.

    >>> v = prove_conv_matrix_bounded(3, 2, 2, 1, 1)
    >>> v.status.value, v.method.split(" (")[0]
    ('proved', 'finite expansion for all n <= 3, k <= 2, s <= 2, d <= 1, p <= 1')
    """
    bounds = {"n": max_n, "k": max_k, "s": max_s, "d": max_d, "p": max_p}
    for name, v in bounds.items():
        check_positive_int(f"max_{name}", v, minimum=0 if name == "p" else 1)
    count = 0
    for n, k, s, d, p in valid_configurations(max_n, max_k, max_s, max_d, max_p):
        v = prove_conv_matrix(n, k, p, s, d)
        count += 1
        if v.status is not Status.PROVED:
            return Verdict(v.status, f"at n={n}, k={k}, s={s}, d={d}, p={p}: {v.method}",
                           claim="conv_matrix(...) @ x == model", counterexample=(
                               None if v.counterexample is None else
                               {"n": n, "k": k, "s": s, "d": d, "p": p, **v.counterexample}),
                           lhs_value=v.lhs_value, rhs_value=v.rhs_value)
    where = ", ".join(f"{k} <= {v}" for k, v in bounds.items())
    return Verdict(Status.PROVED,
                   f"finite expansion for all {where} ({count} configurations whose kernel "
                   f"fits; every output entry of W @ x equals the model's expanded sum as a "
                   f"polynomial, checked entry by entry)",
                   claim="conv_matrix(n, w, p, s, d) @ x == y (model)",
                   instances=count)


# --------------------------------------------------------------------------- symbolic sizes

def toeplitz_entry() -> Any:
    """The symbolic Toeplitz entry ``W[i, j] = d y[i] / d x[j]`` derived from the 1D model,
    as a checked chain (:class:`derive.check.reindex.CheckedChain`).

    The result is ``w[(j + P - S*i)/D]`` when ``D`` divides ``j + P - S*i`` and
    ``0 <= j + P - S*i <= D*(K - 1)``, else 0: the entry depends on ``j - S*i`` only, so for
    ``S = 1`` the matrix is Toeplitz.

    >>> chain = toeplitz_entry()
    >>> chain.proved
    True
    >>> chain.result
    Piecewise((w[(P - S*i + j)/D], (P - S*i + j >= 0) & Eq(Mod(P - S*i + j, D), 0) & (D*(K - 1) >= P - S*i + j)), (0, True))
    """
    from derive.conv.backward import axis_forward, JX
    from derive.check.reindex import ChainBuilder

    fw = axis_forward()
    j = JX
    b = ChainBuilder(sympy.Symbol("W[i, j]"), sympy.Derivative(fw.embedded, fw.x[j]),
                     "the matrix of the linear map from $x$ to $y$: "
                     "$W[i, j] = Derivative(y[i], x[j])$, with the padding written as an "
                     "embedding $x_pad[t] = Sum(KroneckerDelta(t, q + P)*x[q], "
                     f"(q, 0, {sympy.sstr(fw.n - 1)}))$",
                     {j: (0, fw.n - 1), I_: (0, fw.out - 1)})
    b.differentiate()
    b.merge()
    b.eliminate(fw.q, partner=j)
    b.drop()
    b.eliminate(U_, note="$W[i, j]$ depends on $j - S*i$ only: for $S = 1$ it is constant "
                         "along diagonals (Toeplitz)")
    chain = b.build()
    return chain


def toeplitz_proof_1d() -> Any:
    """Proof for symbolic sizes that ``(W @ x)[i]`` equals the model's ``y[i]``.

    ``(W x)[i] = Sum_j W[i, j] x[j]`` with the entry of :func:`toeplitz_entry` (before its
    last step); the model side substitutes the model's padding rule.  Both chains are
    rewritten by checked rules until they meet.

    >>> chain = toeplitz_proof_1d()
    >>> chain.proved
    True
    """
    from derive.check.reindex import ChainBuilder, meet
    from derive.conv.backward import axis_forward, JX

    fw = axis_forward()
    j = JX
    ranges = {I_: (0, fw.out - 1)}
    entry = fw.entry_delta(j)                 # Sum_u w[u] * KroneckerDelta(S*i + D*u, j + P)
    wx = sympy.Sum(entry * fw.x[j], (j, 0, fw.n - 1))
    left = ChainBuilder(sympy.Symbol("(W x)[i]"), wx,
                        "matrix times vector, with "
                        "$W[i, j] = Sum(w[u]*KroneckerDelta(S*i + D*u, j + P), (u, 0, K - 1))$",
                        ranges)
    left.merge().eliminate(j).normalize()
    right = ChainBuilder(sympy.Symbol("y[i]"), fw.model_rhs, "the indexed-sum model", ranges)
    right.substitute({fw.x_pad: fw.padding}, "the model's padding rule for $x_pad$").normalize()
    return meet(left.build(), right.build())
