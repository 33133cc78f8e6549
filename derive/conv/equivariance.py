"""Translation equivariance of CNN operations: a proof on the indexed-sum model, or a
concrete counterexample.

Design rule: every verdict rests on one of two kinds of evidence, never on wording.

* A **proof** writes the operation as an indexed expression of its input, applies the shift
  to the input (``(T_s x)[i] = x[(i - s) mod n]``, circular) and to the output, and hands
  the index identities that make the two sides agree to the checker (the ``Mod`` lemmas);
  a sum over a whole period is unchanged because the re-indexing ``i -> (i - s) mod n`` is
  a bijection of ``{0, ..., n-1}``, whose inverse is checked.  A 2D shift acts on each axis
  separately, so the argument is made, and checked, per axis.
* A **counterexample** is an input array and a shift found by search (impulses first,
  then seeded small random integers) where the two sides differ, with both outputs.  For
  downsampling operations every circular shift of the output is tried, so "no output shift
  matches" is established, not assumed.

Stride-1 convolution with "same" zero padding is examined under zero-fill shifts (the
image moves inside its frame; content leaving it is lost), where it is equivariant on an
interior derived from the extreme taps and fails at the border.

Every case is also cross-checked numerically with NumPy (and with PyTorch by
:func:`torch_cross_check` when it is installed).  Results are :class:`EquivarianceResult`
records that a worked solution can display: ``holds``, ``label``, ``proof`` steps with
verdicts, ``counterexample`` and ``numeric`` checks.

>>> r = global_average_pool()
>>> r.holds, r.label, r.status.value
(True, 'invariant', 'proved')
>>> d = dense_layer()
>>> d.holds, d.counterexample.shift
(False, (0, 1))
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import sympy

from derive.conv.residual import CheckedStep, NumericCheck
from derive.errors import ConfigurationError, InputError, check_positive_int

__all__ = [
    "Counterexample",
    "EquivarianceResult",
    "batch_norm_eval",
    "batch_norm_train",
    "circular_shift",
    "conv_circular",
    "conv_same_padding",
    "conv_strided",
    "dense_layer",
    "exercise_8_22",
    "global_average_pool",
    "max_pool",
    "operator",
    "torch_cross_check",
    "zero_fill_shift",
]

EPS = 1e-5
"""Batch-norm epsilon (PyTorch's default)."""

_ATOL = 1e-9

# ---------------------------------------------------------------------------- symbols
_i = sympy.Symbol("i", integer=True, nonnegative=True)
_j = sympy.Symbol("j", integer=True, nonnegative=True)
_u = sympy.Symbol("u", integer=True, nonnegative=True)
_r = sympy.Symbol("r", integer=True, nonnegative=True)
_s = sympy.Symbol("s", integer=True)
_t = sympy.Symbol("t", integer=True)
_p = sympy.Symbol("p", integer=True, nonnegative=True)
_n = sympy.Symbol("n", integer=True, positive=True)
_m = sympy.Symbol("m", integer=True, positive=True)
_K = sympy.Symbol("K", integer=True, positive=True)
_x = sympy.IndexedBase("x")
_w = sympy.IndexedBase("w")
_W = sympy.IndexedBase("W")
_Mod = sympy.Mod


# ---------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Counterexample:
    """An input and a shift where ``f(T x)`` differs from the shifted output.

    ``output`` is ``f(x)``, ``output_of_shifted`` is ``f(T_shift x)``, ``expected`` is what
    equivariance (or invariance) predicts for it (``T_output_shift f(x)``, or ``f(x)``) and
    ``position`` the first index where the two differ.  ``output_shifts_tried`` counts the
    output shifts that were all compared and all failed (1 when only the natural one is
    meaningful).  ``shift_kind`` is ``"circular"`` or ``"zero-fill"``.
    """

    input: Any
    shift: tuple[int, ...]
    shifted_input: Any
    output: Any
    output_of_shifted: Any
    expected: Any
    output_shift: tuple[int, ...] | None
    position: tuple[int, ...]
    output_shifts_tried: int = 1
    shift_kind: str = "circular"
    note: str = ""

    def describe(self) -> str:
        """One line: where the two sides differ and by how much."""
        a = self.output_of_shifted[self.position]
        b = self.expected[self.position]
        if self.shift_kind == "none":
            return f"at {self.position}: {_num(b)} in the first setting, {_num(a)} in the second"
        return (f"shift {self.shift} ({self.shift_kind}): at {self.position} f(T x) = "
                f"{_num(a)} but the prediction is {_num(b)}"
                + (f"; none of the {self.output_shifts_tried} output shifts matches"
                   if self.output_shifts_tried > 1 else ""))


@dataclass(frozen=True)
class EquivarianceResult:
    """The verdict on one operation.

    ``holds`` answers the exercise's question for circular shifts (``statement`` says
    exactly what is claimed); ``label`` says it in a word or phrase ("equivariant",
    "invariant", "approximately equivariant", "not equivariant"...); ``proof`` holds the
    checked steps of the argument (for a failing operation: of the weaker statement that
    does hold, e.g. equivariance on the interior, or for shifts by multiples of the
    stride); ``counterexample`` the concrete failure; ``extra`` further demonstrations;
    ``checks`` corroborating checker verdicts outside the proof; ``numeric`` NumPy checks.
    ``key`` and ``params`` rebuild the operation (:func:`operator`).
    """

    key: str
    operation: str
    statement: str
    holds: bool
    label: str
    method: str
    proof: tuple[CheckedStep, ...]
    counterexample: Counterexample | None
    numeric: tuple[NumericCheck, ...]
    extra: tuple[Counterexample, ...] = ()
    checks: tuple[CheckedStep, ...] = ()
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def status(self) -> Any:
        """``REFUTED`` when a counterexample exists; else the weakest proof verdict."""
        from derive.check.verdict import Status, weakest
        if self.counterexample is not None and not self.holds:
            return Status.REFUTED
        return weakest(s.verdict.status for s in self.proof if s.verdict is not None)

    @property
    def numeric_agrees(self) -> bool:
        return all(c.agrees for c in self.numeric)

    def summary(self) -> str:
        """A short paragraph: verdict, method and the counterexample if any."""
        lines = [f"{self.operation}: {self.label} ({self.status.value})", self.statement,
                 f"method: {self.method}"]
        if self.counterexample is not None:
            lines.append("counterexample: " + self.counterexample.describe())
        return "\n".join(lines)


def _num(v: Any) -> Any:
    f = float(v)
    return int(f) if f.is_integer() else round(f, 6)


# ---------------------------------------------------------------------------- shifts
def _shift_pair(shift: Any, dims: int = 2) -> tuple[int, ...]:
    if isinstance(shift, (int,)) and not isinstance(shift, bool):
        shift = (0,) * (dims - 1) + (shift,)
    if not isinstance(shift, (tuple, list)) or len(shift) != dims or any(
            isinstance(v, bool) or not isinstance(v, int) for v in shift):
        raise InputError(f"got shift={shift!r}; expected {dims} integers (rows, columns)")
    return tuple(int(v) for v in shift)


def circular_shift(x: Any, shift: Any) -> Any:
    """``(T_s x)[i, j] = x[(i - s0) mod H, (j - s1) mod W]`` on the last two axes.

    >>> import numpy as np
    >>> circular_shift(np.arange(4).reshape(1, 4), (0, 1)).tolist()
    [[3, 0, 1, 2]]
    """
    import numpy as np
    s = _shift_pair(shift)
    return np.roll(np.asarray(x), s, axis=(-2, -1))


def zero_fill_shift(x: Any, shift: Any) -> Any:
    """Translate the last two axes by ``shift``: content leaving the frame is lost, zeros
    enter.

    >>> import numpy as np
    >>> zero_fill_shift(np.arange(1, 5).reshape(1, 4), (0, 1)).tolist()
    [[0, 1, 2, 3]]
    """
    import numpy as np
    s = _shift_pair(shift)
    a = np.asarray(x)
    out = np.zeros_like(a)
    src, dst = [Ellipsis], [Ellipsis]
    for axis, d in zip((-2, -1), s):
        n = a.shape[axis]
        if abs(d) >= n:
            return out
        src.append(slice(max(0, -d), n - max(0, d)))
        dst.append(slice(max(0, d), n - max(0, -d)))
    out[tuple(dst)] = a[tuple(src)]
    return out


# ---------------------------------------------------------------------------- operations
def _conv(x: Any, w: Any, stride: int, mode: str) -> Any:
    import numpy as np
    from derive.numeric.conv import conv2d

    w = np.asarray(w, dtype=float)
    ph, pw = (w.shape[0] - 1) // 2, (w.shape[1] - 1) // 2
    a = np.asarray(x, dtype=float)
    if mode == "circular":
        a = np.pad(a, ((ph, ph), (pw, pw)), mode="wrap")
        pad = 0
    else:
        pad = (ph, pw)
    return conv2d(a[None, None], w[None, None], stride=stride, padding=pad)[0, 0]


def _max_pool(x: Any) -> Any:
    import numpy as np
    from derive.numeric.pool import max_pool2d
    return max_pool2d(np.asarray(x, dtype=float)[None, None], 2)[0, 0]


def _bn_train(x: Any, gamma: Any, beta: Any) -> Any:
    import numpy as np
    a = np.asarray(x, dtype=float)
    mean = a.mean(axis=(0, 2, 3), keepdims=True)
    var = a.var(axis=(0, 2, 3), keepdims=True)          # biased, as used to normalize
    g = np.asarray(gamma, dtype=float)[None, :, None, None]
    b = np.asarray(beta, dtype=float)[None, :, None, None]
    return g * (a - mean) / np.sqrt(var + EPS) + b


def _bn_eval(x: Any, gamma: Any, beta: Any, mean: Any, var: Any) -> Any:
    import numpy as np
    a = np.asarray(x, dtype=float)
    c = (slice(None),) + (None, None)
    scale = np.asarray(gamma, dtype=float) / np.sqrt(np.asarray(var, dtype=float) + EPS)
    shift = np.asarray(beta, dtype=float) - np.asarray(mean, dtype=float) * scale
    return scale[c] * a + shift[c]


def operator(result: EquivarianceResult) -> Callable[[Any], Any]:
    """The NumPy operation a result is about, rebuilt from its ``params``.

    >>> import numpy as np
    >>> f = operator(global_average_pool())
    >>> float(f(np.ones((4, 4))))
    1.0
    """
    return _operator(result.key, result.params)


def _operator(key: str, params: dict[str, Any]) -> Callable[[Any], Any]:
    import numpy as np
    if key == "conv_circular":
        return lambda x: _conv(x, params["kernel"], 1, "circular")
    if key == "conv_same":
        return lambda x: _conv(x, params["kernel"], 1, "zeros")
    if key == "conv_strided":
        return lambda x: _conv(x, params["kernel"], params["stride"], "circular")
    if key == "max_pool":
        return _max_pool
    if key == "batch_norm_train":
        return lambda x: _bn_train(x, params["gamma"], params["beta"])
    if key == "batch_norm_eval":
        return lambda x: _bn_eval(x, params["gamma"], params["beta"], params["mean"],
                                  params["var"])
    if key == "global_avg_pool":
        return lambda x: np.asarray(x, dtype=float).mean(axis=(-2, -1))
    if key == "dense":
        W = np.asarray(params["weight"], dtype=float)
        return lambda x: (W @ np.asarray(x, dtype=float).reshape(-1)).reshape(np.shape(x))
    raise InputError(f"got key={key!r}; unknown operation")


# ---------------------------------------------------------------------------- search
def _first_difference(a: Any, b: Any) -> tuple[int, ...] | None:
    import numpy as np
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return ()
    bad = np.argwhere(~np.isclose(a, b, atol=_ATOL, rtol=0))
    return tuple(int(v) for v in bad[0]) if len(bad) else None


def _candidates(shape: tuple[int, ...], seed: int, count: int = 300) -> Iterator[Any]:
    """Impulses at every position, then seeded random integers in [-3, 3]."""
    import numpy as np
    for idx in np.ndindex(*shape):
        e = np.zeros(shape)
        e[idx] = 1.0
        yield e
    rng = np.random.default_rng(seed)
    for _ in range(count):
        yield rng.integers(-3, 4, size=shape).astype(float)


def _search(f: Callable[[Any], Any], shape: tuple[int, ...], shift: tuple[int, ...], *,
            output_shifts: Sequence[tuple[int, ...]] | None, seed: int,
            shift_kind: str = "circular", note: str = "",
            restrict: Callable[[Any], Any] | None = None) -> Counterexample | None:
    """First candidate input where ``f(T x)`` matches none of the predicted outputs.

    ``output_shifts`` lists the output shifts to try (None: invariance, compare with
    ``f(x)``); ``restrict`` maps a difference mask to the positions that count.
    """
    import numpy as np
    move = circular_shift if shift_kind == "circular" else zero_fill_shift
    for x in _candidates(shape, seed):
        fx = f(x)
        tx = move(x, shift)
        ftx = f(tx)
        if output_shifts is None:
            predictions = [(None, np.asarray(fx))]
        else:
            predictions = [(t, move(fx, t)) for t in output_shifts]
        failures = []
        for t, pred in predictions:
            pos = _first_difference(ftx, pred)
            if pos is not None and restrict is not None and pos != ():
                mask = ~np.isclose(np.asarray(ftx, float), np.asarray(pred, float), atol=_ATOL,
                                   rtol=0)
                mask = restrict(mask)
                pos = tuple(int(v) for v in np.argwhere(mask)[0]) if mask.any() else None
            if pos is None:
                break
            failures.append((t, pred, pos))
        else:
            t, pred, pos = failures[0]
            return Counterexample(_display(x), shift, _display(tx), _display(fx),
                                  _display(ftx), _display(pred), t, pos, len(failures),
                                  shift_kind, note)
    return None


def _display(a: Any) -> Any:
    """Integer-valued float arrays as int arrays (clean display); others unchanged."""
    import numpy as np
    arr = np.asarray(a)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    return arr


def _numeric(f: Callable[[Any], Any], shape: tuple[int, ...], shifts: Sequence[tuple[int, ...]],
             out_shift: Callable[[tuple[int, ...]], tuple[int, ...] | None], *, seed: int,
             trials: int = 4, shift_kind: str = "circular", region: Any = None,
             what: str = "") -> NumericCheck:
    """Max |f(T x) - T' f(x)| over random inputs and the given shifts (``out_shift`` None:
    invariance).  ``region(shift)`` optionally selects the output positions compared."""
    import numpy as np
    move = circular_shift if shift_kind == "circular" else zero_fill_shift
    rng = np.random.default_rng(seed)
    worst = 0.0
    count = 0
    for _ in range(trials):
        x = rng.standard_normal(shape)
        fx = f(x)
        for s in shifts:
            lhs = np.asarray(f(move(x, s)), dtype=float)
            t = out_shift(s)
            rhs = np.asarray(fx if t is None else move(fx, t), dtype=float)
            diff = np.abs(lhs - rhs)
            if region is not None:
                diff = diff[region(s)]
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
            count += 1
    shifts_text = ", ".join(str(s) for s in shifts)
    return NumericCheck(f"NumPy: {what or 'f(T x) vs the shifted output'}, {trials} random "
                        f"inputs of shape {shape}, {shift_kind} shifts {shifts_text}", count,
                        worst, 1e-9)


# ---------------------------------------------------------------------------- proofs
def _check(lhs: Any, rhs: Any, assume: Sequence[str]) -> Any:
    from derive.check.engine import check_exprs
    return check_exprs(lhs, rhs, assume=assume, budget=30.0)


_AXES = ("rows", "columns")


@functools.lru_cache(maxsize=1)
def _bijection_steps() -> tuple[CheckedStep, ...]:
    """``i -> (i - s) mod n`` is a bijection of ``{0..n-1}``: both compositions with
    ``j -> (j + s) mod n`` are the identity there (``i <= n - 1`` written ``n = i + 1 + r``)."""
    n_ = _i + 1 + _r
    a = _Mod(_Mod(_i - _s, n_) + _s, n_)
    b = _Mod(_Mod(_i + _s, n_) - _s, n_)
    assume = ("s integer", "i >= 0", "r >= 0")
    return (
        CheckedStep("undoing the re-indexing: ((i - s) mod n + s) mod n = i for 0 <= i <= n-1 "
                    "(n = i + 1 + r, r >= 0)", a, _i, _check(a, _i, assume)),
        CheckedStep("and the other way round: ((i + s) mod n - s) mod n = i, so "
                    "i -> (i - s) mod n is a bijection of {0, ..., n-1}", b, _i,
                    _check(b, _i, assume)),
    )


def _circular_conv_steps() -> tuple[CheckedStep, ...]:
    read = lambda j: _x[j]                                          # noqa: E731
    model = lambda rd, i: sympy.Sum(_w[_u] * rd(_Mod(i + _u - _p, _n)),  # noqa: E731
                                    (_u, 0, _K - 1))
    shifted = lambda j: _x[_Mod(j - _s, _n)]                        # noqa: E731
    lhs_idx = _Mod(_Mod(_i + _u - _p, _n) - _s, _n)
    rhs_idx = _Mod(_Mod(_i - _s, _n) + _u - _p, _n)
    assume = ("s integer", "p >= 0", "i >= 0", "u >= 0")
    lhs, rhs = model(shifted, _i), model(read, _Mod(_i - _s, _n))
    return (
        CheckedStep("model: y[i] = sum_u w[u] x[(i + u - p) mod n] (circular padding p); "
                    "f(T_s x)[i] reads x at ((i + u - p) mod n - s) mod n, (T_s f(x))[i] = "
                    "y[(i - s) mod n] reads x at ((i - s) mod n + u - p) mod n: the same index",
                    lhs_idx, rhs_idx, _check(lhs_idx, rhs_idx, assume)),
        CheckedStep("so every tap reads the same entry with the same weight and the two sums "
                    "agree term by term (follows from the index identity)", lhs, rhs, None),
    )


def _stride_steps(stride_sym: Any, what: str, with_padding: bool) -> tuple[CheckedStep, ...]:
    """Equivariance for shifts ``s = stride * t`` with output shift ``t`` (n = stride*m)."""
    p = _p if with_padding else 0
    n = stride_sym * _m
    lhs_idx = _Mod(_Mod(stride_sym * _i + _u - p, n) - stride_sym * _t, n)
    rhs_idx = _Mod(stride_sym * _Mod(_i - _t, _m) + _u - p, n)
    assume = ("t integer", "i >= 0", "u >= 0", "p >= 0")
    minus_p = " - p" if with_padding else ""
    return (
        CheckedStep(f"{what}: output i reads x at ({stride_sym}*i + u{minus_p}) "
                    f"mod n for each tap u; with n = {stride_sym}*m and an input shift "
                    f"s = {stride_sym}*t, f(T_s x)[i] reads the same entry as f(x)[(i - t) mod m]",
                    lhs_idx, rhs_idx, _check(lhs_idx, rhs_idx, assume)),
        CheckedStep("every tap of output i reads the same input entry on both sides, so the "
                    "outputs agree: f(T_s x) = T_t f(x) (follows from the index identity)",
                    lhs_idx, rhs_idx, None),
    )


# ---------------------------------------------------------------------------- cases
def _kernel(kernel: Any, seed: int) -> Any:
    import numpy as np
    if kernel is None:
        rng = np.random.default_rng(seed)
        return rng.integers(-3, 4, size=(3, 3)).astype(float)
    k = np.asarray(kernel, dtype=float)
    if k.ndim != 2 or k.shape[0] % 2 == 0 or k.shape[1] % 2 == 0:
        raise ConfigurationError(f"got kernel of shape {k.shape}; expected a 2D kernel with odd "
                                 f"sides (so that 'same' padding is (K - 1)/2)")
    if not np.any(k):
        raise ConfigurationError("got an all-zero kernel; it commutes with everything")
    return k


def _size(name: str, size: Any, minimum: int) -> tuple[int, int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ConfigurationError(f"got {name}={size!r}; expected an int or (height, width)")
    return (check_positive_int(f"{name}[0]", size[0], minimum=minimum),
            check_positive_int(f"{name}[1]", size[1], minimum=minimum))


_SHIFTS = ((0, 1), (1, 0), (1, 2), (-2, 3))


def conv_circular(kernel: Any = None, size: Any = 6, seed: int = 0) -> EquivarianceResult:
    """Stride-1 convolution with circular padding: equivariant to every circular shift.

    >>> r = conv_circular()
    >>> r.holds, r.status.value, r.numeric_agrees
    (True, 'proved', True)
    """
    k = _kernel(kernel, seed)
    hw = _size("size", size, max(k.shape))
    params = {"kernel": k, "shape": hw}
    f = _operator("conv_circular", params)
    proof = _circular_conv_steps()
    numeric = (_numeric(f, hw, _SHIFTS, lambda s: s, seed=seed),)
    return EquivarianceResult(
        "conv_circular", "convolution, stride 1, circular padding",
        "f(T_s x) = T_s f(x) for every circular shift s (per axis)", True, "equivariant",
        "index identity on the indexed-sum model (Mod lemmas), per axis", proof, None, numeric,
        params=params)


def conv_same_padding(kernel: Any = None, size: Any = 6, seed: int = 0,
                      shift: Any = (0, 1)) -> EquivarianceResult:
    """Stride-1 convolution with "same" zero padding, for shifts that translate the image
    in its frame (zero fill): equal on the interior, a counterexample at the border.

    >>> r = conv_same_padding()
    >>> r.holds, r.label
    (False, 'approximately equivariant: exact away from the border')
    >>> r.params["interior"]
    ((1, 4), (2, 4))
    """
    import numpy as np

    k = _kernel(kernel, seed)
    hw = _size("size", size, max(k.shape))
    shift = _shift_pair(shift)
    params: dict[str, Any] = {"kernel": k, "shape": hw}
    f = _operator("conv_same", params)
    # interior along one axis, derived from the extreme taps (s >= 0; s < 0 mirrors it)
    lo_tap = sympy.solve(sympy.Eq(_i + 0 - _p, _s), _i)[0]               # first tap at s
    hi_tap = sympy.solve(sympy.Eq(_i + (_K - 1) - _p, _n - 1), _i)[0]    # last tap at n-1
    bounds = (lo_tap, hi_tap)

    def interior(axis: int, s: int) -> tuple[int, int]:
        kk, n = k.shape[axis], hw[axis]
        sub = {_p: (kk - 1) // 2, _K: kk, _n: n}
        if s >= 0:
            return (int(lo_tap.subs(sub | {_s: s})), int(hi_tap.subs(sub | {_s: 0})))
        return (int(lo_tap.subs(sub | {_s: 0})), int(hi_tap.subs(sub | {_s: 0})) + s)

    params["interior"] = tuple(interior(a, shift[a]) for a in range(2))
    params["interior_bounds"] = bounds

    def region(s: tuple[int, ...]) -> Any:
        (r0, r1), (c0, c1) = interior(0, s[0]), interior(1, s[1])
        return (slice(r0, max(r0, r1 + 1)), slice(c0, max(c0, c1 + 1)))

    def outside(mask: Any) -> Any:
        keep = np.ones_like(mask)
        keep[region(shift)] = False
        return mask & keep

    idx_l, idx_r = (_i + _u - _p) - _s, (_i - _s) + _u - _p
    proof = (
        CheckedStep(f"interior of one axis (s >= 0): the first tap of f(T_s x)[i] stays at or "
                    f"after the vacated band, i + 0 - p >= s, i.e. i >= {lo_tap}, and the last "
                    f"tap inside the frame, i + K - 1 - p <= n - 1, i.e. i <= {hi_tap}; there "
                    f"the reads of T_s f(x) at i - s are inside the frame too",
                    sympy.Interval(lo_tap, hi_tap), sympy.Interval(lo_tap, hi_tap), None),
        CheckedStep("on the interior both sides read x at the same index for every tap u",
                    idx_l, idx_r, _check(idx_l, idx_r, ("s integer", "p >= 0"))),
    )
    cex = _search(f, hw, shift, output_shifts=[shift], seed=seed, shift_kind="zero-fill",
                  restrict=outside, note="the window of an output near the border reads "
                  "padding zeros on one side and image content on the other")
    numeric = (
        _numeric(f, hw, [(0, 1), (1, 0), (1, 1), (-1, 2)], lambda s: s, seed=seed,
                 shift_kind="zero-fill", region=region,
                 what="f(T x) vs T f(x) on the interior only"),
    )
    return EquivarianceResult(
        "conv_same", "convolution, stride 1, 'same' zero padding",
        "f(T_s x) = T_s f(x) for shifts that move the image in its frame (zero fill)",
        cex is None, "approximately equivariant: exact away from the border",
        "interior derived from the extreme taps, index identity there; counterexample at the "
        "border by search", proof, cex, numeric, params=params)


def conv_strided(kernel: Any = None, size: Any = 8, stride: int = 2, seed: int = 0,
                 shift: Any = (0, 1)) -> EquivarianceResult:
    """Convolution with stride 2 (circular padding): a shift by 1 has no matching output
    shift; shifts by multiples of the stride are equivariant (output shift s/stride).

    >>> r = conv_strided()
    >>> r.holds, r.counterexample.output_shifts_tried
    (False, 16)
    """
    k = _kernel(kernel, seed)
    stride = check_positive_int("stride", stride, minimum=2)
    hw = _size("size", size, max(k.shape))
    if any(v % stride for v in hw):
        raise ConfigurationError(f"got size={hw} with stride={stride}; the sides must be "
                                 f"multiples of the stride")
    shift = _shift_pair(shift)
    params = {"kernel": k, "stride": stride, "shape": hw}
    f = _operator("conv_strided", params)
    out = (hw[0] // stride, hw[1] // stride)
    cex = _search(f, hw, shift, output_shifts=list(itertools.product(range(out[0]),
                                                                      range(out[1]))),
                  seed=seed, note="the stride samples every other position: a shift by 1 "
                  "moves the input between the sampled grids")
    proof = _stride_steps(sympy.Integer(stride), f"stride-{stride} convolution", True)
    multiples = [(stride, 0), (0, stride), (stride, 2 * stride)]
    numeric = (_numeric(f, hw, multiples, lambda s: (s[0] // stride, s[1] // stride),
                        seed=seed, what=f"f(T_s x) vs T_(s/{stride}) f(x)"),)
    return EquivarianceResult(
        "conv_strided", f"convolution, stride {stride}",
        f"f(T_s x) = T_t f(x) for some output shift t, for every input shift s", cex is None,
        f"not equivariant (equivariant only for shifts by multiples of {stride})",
        f"counterexample by search over all output shifts; proof for s = {stride}t",
        proof, cex, numeric, params=params)


def max_pool(size: Any = 4, seed: int = 0, shift: Any = (0, 1)) -> EquivarianceResult:
    """2x2 max pooling with stride 2: not equivariant to a shift by 1 (no output shift
    matches), equivariant to shifts by multiples of 2.

    >>> r = max_pool()
    >>> r.holds, r.counterexample.shift
    (False, (0, 1))
    """
    hw = _size("size", size, 2)
    if any(v % 2 for v in hw):
        raise ConfigurationError(f"got size={hw}; 2x2 pooling with stride 2 needs even sides")
    shift = _shift_pair(shift)
    f = _operator("max_pool", {})
    out = (hw[0] // 2, hw[1] // 2)
    cex = _search(f, hw, shift, output_shifts=list(itertools.product(range(out[0]),
                                                                      range(out[1]))),
                  seed=seed, note="a shift by 1 moves entries across window boundaries")
    proof = _stride_steps(sympy.Integer(2), "2x2 max pooling, stride 2 (taps u = 0, 1)", False)
    numeric = (_numeric(f, hw, [(2, 0), (0, 2), (2, 2)], lambda s: (s[0] // 2, s[1] // 2),
                        seed=seed, what="f(T_s x) vs T_(s/2) f(x)"),)
    return EquivarianceResult(
        "max_pool", "max pooling, 2x2 window, stride 2",
        "f(T_s x) = T_t f(x) for some output shift t, for every input shift s", cex is None,
        "not equivariant (equivariant only for shifts by multiples of 2)",
        "counterexample by search over all output shifts; proof for s = 2t", proof, cex,
        numeric, params={"shape": hw})


def _bn_params(channels: int, seed: int) -> dict[str, Any]:
    import numpy as np
    rng = np.random.default_rng(seed + 1)
    return {"gamma": rng.uniform(0.5, 2.0, channels), "beta": rng.uniform(-1, 1, channels),
            "mean": rng.uniform(-1, 1, channels), "var": rng.uniform(0.5, 2.0, channels)}


def _pointwise_step(expr_of: Callable[[Any], Any], what: str,
                    assume: Sequence[str]) -> CheckedStep:
    """A pointwise map ``y[i] = phi(x[i])``: shift the input and apply it, vs apply it and
    read the output at the shifted index."""
    model = lambda rd, i: expr_of(rd(i))                            # noqa: E731
    lhs = model(lambda j: _x[_Mod(j - _s, _n)], _i)                 # f(T_s x)[i]
    rhs = model(lambda j: _x[j], _Mod(_i - _s, _n))                 # f(x)[(i - s) mod n]
    return CheckedStep(f"{what}: f(T_s x)[i] applies the same map to x[(i - s) mod n] as "
                       f"(T_s f(x))[i] = f(x)[(i - s) mod n]", lhs, rhs,
                       _check(lhs, rhs, tuple(assume) + ("s integer", "i >= 0")))


def batch_norm_train(size: Any = 4, batch: int = 2, channels: int = 2,
                     seed: int = 0) -> EquivarianceResult:
    """Batch norm in training mode: the batch statistics are sums over all positions, so
    they do not change under a circular shift, and the normalization is pointwise: the
    layer is equivariant to circular shifts; but each output depends on the whole batch
    (extra demonstrations: the same image in two batches; a zero-fill shift).

    >>> r = batch_norm_train()
    >>> r.holds, r.status.value, [e.note.split(':')[0] for e in r.extra]
    (True, 'proved', ['batch dependence', 'zero-fill shift'])
    """
    import numpy as np

    hw = _size("size", size, 2)
    batch = check_positive_int("batch", batch, minimum=2)
    channels = check_positive_int("channels", channels)
    shape = (batch, channels) + hw
    params = _bn_params(channels, seed) | {"shape": shape}
    f = _operator("batch_norm_train", params)
    mu, g, b = sympy.symbols("mu gamma beta", real=True)
    v = sympy.Symbol("v", nonnegative=True)            # a variance
    eps = sympy.Symbol("epsilon", positive=True)       # the stabiliser, > 0
    mean_l = sympy.Sum(_x[_Mod(_j - _s, _n)], (_j, 0, _n - 1)) / _n
    mean_r = sympy.Sum(_x[_j], (_j, 0, _n - 1)) / _n
    proof = _bijection_steps() + (
        CheckedStep("so the batch mean and variance, sums over every position of every image "
                    "(for each channel), are the same for x and T_s x (a finite sum does not "
                    "change under a bijective re-indexing)", mean_l, mean_r, None),
        _pointwise_step(lambda xe: g * (xe - mu) / sympy.sqrt(v + eps) + b,
                        "with the statistics fixed, the normalization is pointwise",
                        ("gamma real", "mu real", "beta real")),
    )
    checks = (CheckedStep("the mean over one axis, expanded for every n <= 6 and shift "
                          "0 <= s <= 5", mean_l, mean_r,
                          _check(mean_l, mean_r, ("n <= 6", "s >= 0", "s <= 5"))),)
    numeric = (
        _numeric(f, shape, _SHIFTS, lambda s: s, seed=seed,
                 what="whole batch shifted circularly"),
    )
    # demonstration 1: the same image, two different batches
    rng = np.random.default_rng(seed)
    x0 = rng.integers(-3, 4, size=(1, channels) + hw).astype(float)
    comp_a = rng.integers(-3, 4, size=(batch - 1, channels) + hw).astype(float)
    comp_b = comp_a * 2 + 1
    out_a = f(np.concatenate([x0, comp_a]))[0]
    out_b = f(np.concatenate([x0, comp_b]))[0]
    pos = _first_difference(out_a, out_b) or ()
    dep = Counterexample(_display(x0[0]), (0, 0), _display(x0[0]), out_a, out_b, out_a, None,
                         pos, 1, "none", "batch dependence: the same image normalized in two "
                         "batches (companions c, then 2c + 1) gives different outputs")
    # demonstration 2: zero-fill shifts change the statistics
    def beyond_vacated(mask: Any) -> Any:
        keep = np.zeros_like(mask)
        keep[..., 1:] = True                # columns the shifted content fills
        return mask & keep

    zf = _search(f, shape, (0, 1), output_shifts=[(0, 1)], seed=seed, shift_kind="zero-fill",
                 restrict=beyond_vacated,
                 note="zero-fill shift: content leaving the frame changes the batch "
                      "statistics, so outputs differ even outside the vacated column")
    extra = tuple(e for e in (dep, zf) if e is not None)
    return EquivarianceResult(
        "batch_norm_train", "batch normalization, training mode (batch statistics)",
        "f(T_s X) = T_s f(X) for the whole batch X shifted circularly", True,
        "equivariant for circular shifts, but each output depends on the rest of the batch",
        "bijective re-indexing of the statistics' sums, then a pointwise map", proof, None,
        numeric, extra, checks, params=params)


def batch_norm_eval(size: Any = 4, batch: int = 2, channels: int = 2,
                    seed: int = 0) -> EquivarianceResult:
    """Batch norm in evaluation mode: a fixed affine map per channel, applied pointwise, so
    equivariant to every circular shift (and independent of the batch).

    >>> batch_norm_eval().status.value
    'proved'
    """
    hw = _size("size", size, 2)
    batch = check_positive_int("batch", batch)
    channels = check_positive_int("channels", channels)
    params = _bn_params(channels, seed) | {"shape": (batch, channels) + hw}
    f = _operator("batch_norm_eval", params)
    a, b = sympy.symbols("a b", real=True)
    proof = (_pointwise_step(lambda xe: a * xe + b, "per channel y = a x + b with fixed "
                             "a = gamma / sqrt(running_var + eps), b = beta - a running_mean",
                             ("a real", "b real")),)
    numeric = (_numeric(f, (batch, channels) + hw, _SHIFTS, lambda s: s, seed=seed),)
    return EquivarianceResult(
        "batch_norm_eval", "batch normalization, evaluation mode (running statistics)",
        "f(T_s x) = T_s f(x) for every circular shift s", True, "equivariant",
        "pointwise affine map with fixed coefficients", proof, None, numeric, params=params)


def global_average_pool(size: Any = 4, seed: int = 0) -> EquivarianceResult:
    """Global average pooling: invariant to circular shifts (re-indexing a full sum).

    >>> r = global_average_pool()
    >>> r.label, all(s.verdict.proved for s in r.proof if s.verdict is not None)
    ('invariant', True)
    """
    hw = _size("size", size, 1)
    f = _operator("global_avg_pool", {})
    lhs = sympy.Sum(_x[_Mod(_j - _s, _n)], (_j, 0, _n - 1)) / _n
    rhs = sympy.Sum(_x[_j], (_j, 0, _n - 1)) / _n
    proof = _bijection_steps() + (
        CheckedStep("the average over one axis of T_s x re-indexes the average of x by that "
                    "bijection, so they are equal (and likewise along the other axis)",
                    lhs, rhs, None),
    )
    checks = (CheckedStep("the same sums expanded for every n <= 8 and 0 <= s <= 7", lhs, rhs,
                          _check(lhs, rhs, ("n <= 8", "s >= 0", "s <= 7"))),)
    numeric = (_numeric(f, hw, _SHIFTS, lambda s: None, seed=seed,
                        what="GAP(T x) vs GAP(x)"),)
    return EquivarianceResult(
        "global_avg_pool", "global average pooling",
        "f(T_s x) = f(x) for every circular shift s", True, "invariant",
        "bijective re-indexing of the sum (inverse checked)", proof, None, numeric,
        checks=checks, params={"shape": hw})


def dense_layer(size: Any = (1, 4), seed: int = 0, shift: Any = (0, 1)) -> EquivarianceResult:
    """A fully connected layer ``y = W x`` on the flattened input: not equivariant for a
    generic ``W`` (only circulant matrices commute with every shift).

    >>> r = dense_layer()
    >>> r.label, r.counterexample.output_shift
    ('not equivariant', (0, 1))
    """
    import numpy as np

    hw = _size("size", size, 1)
    shift = _shift_pair(shift)
    n = hw[0] * hw[1]
    rng = np.random.default_rng(seed)
    params = {"weight": rng.integers(-3, 4, size=(n, n)).astype(float), "shape": hw}
    f = _operator("dense", params)
    lhs = sympy.Sum(_W[_i, _j] * _x[_Mod(_j - _s, _n)], (_j, 0, _n - 1))
    rhs = sympy.Sum(_W[_Mod(_i - _s, _n), _j] * _x[_j], (_j, 0, _n - 1))
    checks = (CheckedStep("on the indexed model with a generic W, f(T_s x)[i] vs "
                          "(T_s f(x))[i]: the checker's search", lhs, rhs,
                          _check(lhs, rhs, ("s integer", "i >= 0", "i <= n - 1"))),)
    cex = _search(f, hw, shift, output_shifts=[shift], seed=seed,
                  note="W mixes every position with its own weights; shifting x re-pairs "
                       "weights and entries")
    circulant = np.array([[params["weight"][0][(j - i) % n] for j in range(n)]
                          for i in range(n)])
    numeric = (_numeric(_operator("dense", {"weight": circulant}), hw, [shift, (0, 2)]
                        if hw[0] == 1 else _SHIFTS, lambda s: s, seed=seed,
                        what="a circulant W (W[i, j] = c[(j - i) mod n]) commutes with the "
                             "shift"),)
    return EquivarianceResult(
        "dense", "fully connected layer",
        "f(T_s x) = T_s f(x) for every circular shift s", cex is None, "not equivariant",
        "counterexample with a concrete random integer weight matrix", (), cex, numeric,
        checks=checks, params=params)


def exercise_8_22(seed: int = 0) -> dict[str, EquivarianceResult | tuple[EquivarianceResult,
                                                                          ...]]:
    """The cases of exercise 8.22 in order: (a) stride-1 convolution with "same" padding
    (and circular padding), (b) stride 2, (c) 2x2 max pooling, (d) batch norm (train,
    eval), (e) global average pooling, (f) a dense layer.

    >>> sorted(exercise_8_22())
    ['a', 'b', 'c', 'd', 'e', 'f']
    """
    return {
        "a": (conv_same_padding(seed=seed), conv_circular(seed=seed)),
        "b": conv_strided(seed=seed),
        "c": max_pool(seed=seed),
        "d": (batch_norm_train(seed=seed), batch_norm_eval(seed=seed)),
        "e": global_average_pool(seed=seed),
        "f": dense_layer(seed=seed),
    }


# ---------------------------------------------------------------------------- torch
def _torch_operator(key: str, params: dict[str, Any]) -> Callable[[Any], Any]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    def t(a: Any) -> Any:
        return torch.as_tensor(np.asarray(a, dtype=np.float64))

    if key in ("conv_circular", "conv_same", "conv_strided"):
        w = t(params["kernel"])[None, None]
        ph, pw = (w.shape[2] - 1) // 2, (w.shape[3] - 1) // 2
        stride = params.get("stride", 1)

        def conv(x: Any) -> Any:
            xt = t(x)[None, None]
            if key == "conv_same":
                return F.conv2d(xt, w, padding=(ph, pw))[0, 0].numpy()
            xt = F.pad(xt, (pw, pw, ph, ph), mode="circular")
            return F.conv2d(xt, w, stride=stride)[0, 0].numpy()
        return conv
    if key == "max_pool":
        return lambda x: F.max_pool2d(t(x)[None, None], 2)[0, 0].numpy()
    if key in ("batch_norm_train", "batch_norm_eval"):
        train = key == "batch_norm_train"
        return lambda x: F.batch_norm(
            t(x), None if train else t(params["mean"]), None if train else t(params["var"]),
            t(params["gamma"]), t(params["beta"]), training=train, eps=EPS).numpy()
    if key == "global_avg_pool":
        return lambda x: F.adaptive_avg_pool2d(t(x)[None, None], 1)[0, 0, 0, 0].numpy()
    if key == "dense":
        W = t(params["weight"])
        return lambda x: F.linear(t(x).reshape(-1), W).reshape(np.shape(x)).numpy()
    raise InputError(f"got key={key!r}; unknown operation")  # pragma: no cover


def torch_cross_check(result: EquivarianceResult, trials: int = 3,
                      seed: int = 0) -> NumericCheck | None:
    """Evaluate the operation with PyTorch on random inputs and on the counterexample's
    inputs and compare with NumPy; None when PyTorch is not installed."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    import numpy as np

    ours = operator(result)
    theirs = _torch_operator(result.key, result.params)
    shape = _input_shape(result)
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(shape) for _ in range(trials)]
    for c in (result.counterexample, *result.extra):
        if c is not None and c.shift_kind != "none":
            inputs += [np.asarray(c.input, float), np.asarray(c.shifted_input, float)]
    worst = 0.0
    for x in inputs:
        worst = max(worst, float(np.max(np.abs(np.asarray(ours(x)) - np.asarray(theirs(x))))))
    return NumericCheck(f"PyTorch vs NumPy on {len(inputs)} inputs (random and counterexample)",
                        len(inputs), worst, 1e-9)


def _input_shape(result: EquivarianceResult) -> tuple[int, ...]:
    shape = result.params.get("shape")
    if shape is None:
        raise InputError(f"result {result.key!r} does not record its input shape")
    return tuple(shape)
