"""derive.analyze on hand-written modules: every closed form against an independent source.

Shapes are compared with the module run on the CPU (real tensors), parameters with
``sum(p.numel())``, multiply-adds with PyTorch's own FlopCounterMode, receptive fields with
the gradient support of one output feature, and the derived valid sizes with scans that run
the module.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from derive.analysis import analyze  # noqa: E402
from derive.analysis.sizes import evaluate  # noqa: E402
from derive.errors import InputError  # noqa: E402

pytestmark = pytest.mark.torch


# -- modules --------------------------------------------------------------------------------

class Zoo(nn.Module):
    """Every supported operation once, on a 2-D input."""

    def __init__(self) -> None:
        super().__init__()
        self.same = nn.Conv2d(3, 8, 4, padding="same")
        self.dil = nn.Conv2d(8, 8, 3, padding=1, dilation=2)
        self.grouped = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.act = nn.Hardswish()
        self.pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.avg = nn.AvgPool2d(2, ceil_mode=True)
        self.side = nn.Conv2d(16, 16, 1)
        self.up = nn.ConvTranspose2d(32, 8, 3, stride=2, padding=1, output_padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.head_pool = nn.AdaptiveAvgPool2d((2, 2))
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(8, 5)
        self.ln = nn.LayerNorm(5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn(self.grouped(self.dil(self.same(x)))))
        x = self.avg(self.pool(x))
        x = torch.cat([x, self.side(x) + x], dim=1)
        x = self.upsample(self.shuffle(self.up(x)))
        x = torch.flatten(self.head_pool(x), 1)
        x = x.view(x.size(0), 8, -1).mean(2)
        return self.ln(self.fc(self.drop(x)))


class Mismatched(nn.Module):
    """A residual sum whose branches agree only at even sides."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, stride=2, padding=1)   # ceil(n/2)
        self.b = nn.Conv2d(3, 4, 2, stride=2)              # floor(n/2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x) + self.b(x)


class Rolled(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.after = nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(torch.roll(self.conv(x), 1, dims=2))


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:          # fx cannot trace a branch on data
            return self.conv(x)
        return self.conv(x)


class Stack(nn.Module):
    """Strided stack for the valid-size and receptive-field tests."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 2, 4, stride=2, padding=1)
        self.p1 = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(2, 2, 3, stride=2, padding=2, dilation=2)
        self.c3 = nn.Conv2d(2, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c3(torch.relu(self.c2(self.p1(self.c1(x)))))


# -- independent sources ----------------------------------------------------------------------

def cpu_shapes(module: nn.Module, shape: tuple) -> dict[str, tuple]:
    """fx node name -> shape, from running the module on real CPU tensors."""
    gm = torch.fx.symbolic_trace(module).eval()
    out: dict[str, tuple] = {}

    class Rec(torch.fx.Interpreter):
        def run_node(self, node):  # type: ignore[no-untyped-def]
            value = super().run_node(node)
            if isinstance(value, torch.Tensor):
                out[str(node.target) if node.op == "call_module" else node.name] = tuple(
                    value.shape)
            return value

    with torch.no_grad():
        Rec(gm).run(torch.randn(shape))
    return out


def runs(module: nn.Module, shape: tuple) -> bool:
    try:
        with torch.no_grad():
            module.eval()(torch.empty(shape, device="meta") if False else torch.zeros(shape))
        return True
    except RuntimeError:
        return False


def assert_shapes(analysis, module: nn.Module, sides: list[tuple[int, int]]) -> int:
    compared = 0
    H, W = analysis.symbols
    for h, w in sides:
        actual = cpu_shapes(module, (1, 3, h, w))
        for row in analysis.rows:
            if row.shape is None or row.name not in actual:
                continue
            derived = tuple(evaluate(d, {H: h, W: w}) for d in row.shape)
            assert derived == actual[row.name], (row.name, h, w)
            compared += 1
    return compared


# -- tests ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zoo() -> tuple:
    torch.manual_seed(0)
    module = Zoo().eval()
    return module, analyze(module, ("C", "H", "W"))


def test_zoo_shapes_match_cpu_runs_at_non_multiples(zoo: tuple) -> None:
    module, a = zoo
    assert a.method == "fx" and not a.not_modelled
    sides = [(a.conditions.smallest_valid, a.conditions.smallest_valid + 1), (17, 23), (30, 31),
             (33, 64)]
    assert assert_shapes(a, module, sides) > 4 * 15


def test_zoo_meta_crosscheck_and_symbolic_steps(zoo: tuple) -> None:
    _, a = zoo
    assert a.checks.ok, a.checks.shape_failures
    assert len(a.checks.sizes) >= 5 and a.checks.shape_comparisons > 50
    assert a.checks.symbolic.get("proved", 0) >= 4
    assert "refuted" not in a.checks.symbolic


def test_zoo_params_equal_numel(zoo: tuple) -> None:
    module, a = zoo
    assert a.params == sum(p.numel() for p in module.parameters())
    assert a.checks.params_compared >= 8 and not a.checks.params_failures


def test_zoo_flops_match_flop_counter(zoo: tuple) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    module, a = zoo
    H, W = a.symbols
    for h, w in [(16, 16), (21, 30)]:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros(1, 3, h, w))
        counted = counter.get_total_flops()   # 2 per multiply-add
        derived = int(a.macs.subs({H: h, W: w}))
        assert 2 * derived == counted, (h, w)


def test_zoo_rows_name_the_convention_and_global_fields(zoo: tuple) -> None:
    _, a = zoo
    d = a.to_dict()
    assert d["convention"]["name"] == "mac"
    by_name = {r["name"]: r for r in d["rows"]}
    assert by_name["same"]["shape"] == ["1", "8", "H", "W"]
    assert by_name["head_pool"]["receptive_field"] == ["irregular", "irregular"]
    assert by_name["fc"]["receptive_field"] == ["global", "global"]
    assert "mac" in a.table() and "|" in a.markdown() and r"\begin{tabular}" in a.latex()


def test_flop2_is_twice_mac() -> None:
    m = Stack().eval()
    a = analyze(m, (1, "H", "W"), check=False)
    b = analyze(m, (1, "H", "W"), convention="flop2", check=False)
    assert b.flops == 2 * a.flops


def _grad_support(module: nn.Module, side: int, out_pos: tuple[int, int], trials: int = 6
                  ) -> tuple[range, range]:
    rows, cols = set(), set()
    for seed in range(trials):
        torch.manual_seed(seed)
        for p in module.parameters():
            torch.nn.init.uniform_(p, 0.1, 1.0)    # positive weights: no cancellation
        x = torch.randn(1, 1, side, side, dtype=torch.float64, requires_grad=True)
        y = module.double()(x)
        y[0, 0, out_pos[0], out_pos[1]].backward()
        nz = x.grad[0, 0].nonzero()
        rows |= set(nz[:, 0].tolist())
        cols |= set(nz[:, 1].tolist())
    return range(min(rows), max(rows) + 1), range(min(cols), max(cols) + 1)


def test_receptive_field_matches_gradient_support() -> None:
    module = Stack().eval()
    a = analyze(module, (1, "H", "W"), check=False)
    rf_h, rf_w = a.receptive_field
    side = 64
    H, W = a.symbols
    out_side = evaluate(a.rows[-1].shape[-1], {H: side, W: side})
    f = out_side // 2
    first = f * rf_h.jump - rf_h.start
    expected = range(max(first, 0), min(first + rf_h.size - 1, side - 1) + 1)
    rows, cols = _grad_support(module, side, (f, f))
    assert rows == expected and cols == expected
    assert rf_h == rf_w


def test_smallest_valid_side_matches_a_scan() -> None:
    module = Stack().eval()
    a = analyze(module, (1, "H", "W"), check=False)
    first_running = next(h for h in range(1, 100) if runs(module, (1, 1, h, h)))
    assert a.conditions.smallest_valid == first_running
    assert a.conditions.axes[0].smallest_positive == first_running


def _strided_exact(module: nn.Module, h: int) -> bool:
    """Every strided layer of the run maps its input side n to exactly n/stride."""
    ok = True

    def hook(mod, args, out):  # type: ignore[no-untyped-def]
        nonlocal ok
        s = mod.stride if isinstance(mod.stride, int) else mod.stride[0]
        if s > 1 and args[0].shape[-2] != s * out.shape[-2]:
            ok = False

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    try:
        runs(module, (1, 1, h, 40))
    finally:
        for handle in handles:
            handle.remove()
    return ok


def test_exact_division_residues_match_a_scan() -> None:
    module = Stack().eval()
    a = analyze(module, (1, "H", "W"), check=False)
    axis = a.conditions.axes[0]
    start = axis.smallest_positive
    scanned = {h for h in range(start, start + 3 * axis.exact_modulus + 5)
               if _strided_exact(module, h)}
    derived = {h for h in range(start, start + 3 * axis.exact_modulus + 5)
               if h % axis.exact_modulus in axis.exact_residues}
    assert scanned == derived and derived
    assert axis.exact_text == "H ≡ 0 (mod 8)"


def test_mismatched_residual_gives_counterexamples() -> None:
    module = Mismatched().eval()
    a = analyze(module, ("C", "H", "W"), check=False)
    [m] = [m for m in a.conditions.mismatches if m["dim"] == 2]
    assert m["counterexamples"] and not m["fails_at_every_scanned_size"]
    for h in m["counterexamples"]:
        assert not runs(module, (1, 3, h, 8))
    assert m["broadcasts_at"] == [3]     # sides 2 and 1: PyTorch broadcasts, no error
    assert runs(module, (1, 3, 3, 8))
    assert runs(module, (1, 3, 8, 8))
    assert m["counterexamples"][:4] == [5, 7, 9, 11]
    assert a.conditions.smallest_valid == 2


def test_not_modelled_op_gets_its_row_and_nothing_after_is_guessed() -> None:
    a = analyze(Rolled().eval(), ("C", "H", "W"))
    row, after = a.not_modelled
    assert row.name == "roll" and "not modelled" in row.note
    assert after.name == "after" and "not derived" in after.note
    assert after.shape is None and after.macs is None and a.macs is None
    assert "not modelled" in a.table()


def test_hook_fallback_says_so() -> None:
    module = DataDependent().eval()
    a = analyze(module, (3, "H", "W"))
    assert a.method == "hooks" and "could not trace" in a.note
    conv = [r for r in a.rows if r.name == "conv"][0]
    assert [str(d) for d in conv.shape[2:]] != ["?", "?"]
    assert a.checks.shape_comparisons >= 5 and a.checks.ok


def test_numeric_input_and_batch() -> None:
    a = analyze(Stack().eval(), (2, 1, 40, 33))
    assert a.rows[0].shape == (2, 2, 20, 16)
    assert not a.symbols and a.checks.ok


def test_bad_inputs_are_input_errors() -> None:
    with pytest.raises(InputError, match="entries"):
        analyze(Stack(), ("H",))
    with pytest.raises(InputError, match="input entry"):
        analyze(Stack(), (1, "H-1", "W"))
    with pytest.raises(InputError, match="larger input"):  # a 3x3 kernel on 1 position
        analyze(Stack(), (1, 3, 3))
    with pytest.raises(InputError, match="nn.Module"):
        analyze(object(), ("C", "H", "W"))
    with pytest.raises(InputError, match="convention"):
        analyze(Stack(), ("C", "H", "W"), convention="flops")


def test_import_derive_does_not_import_torch() -> None:
    code = "import sys, derive; derive.analyze; print('torch' in sys.modules, 'sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", "import sys, derive; "
                          "print('torch' in sys.modules or 'sympy' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", code


# -- property: random small conv stacks against meta-device runs ------------------------------

_layer = st.tuples(st.sampled_from(["conv", "max", "avg"]), st.integers(1, 4),
                   st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.booleans())


def _build(spec: list) -> nn.Sequential:
    layers = []
    for kind, k, s, p, d, ceil in spec:
        p = min(p, k // 2)
        if kind == "conv":
            layers.append(nn.Conv2d(2, 2, k, stride=s, padding=p, dilation=d))
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, stride=s, padding=p, dilation=d, ceil_mode=ceil))
        else:
            layers.append(nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil))
    return nn.Sequential(*layers)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_layer, min_size=1, max_size=4), st.integers(1, 40), st.integers(1, 40))
def test_random_stacks_match_meta_runs(spec: list, h: int, w: int) -> None:
    module = _build(spec).eval()
    a = analyze(module, (2, "H", "W"), check=False)
    H, W = a.symbols
    x = torch.empty(1, 2, h, w, device="meta")
    meta = _build(spec).to("meta").eval()
    positive = all(evaluate(d, {H: h, W: w}) >= 1 for r in a.rows for d in r.shape)
    try:
        with torch.no_grad():
            y = meta(x)
    except RuntimeError:
        assert not positive
        return
    if not positive:
        # PyTorch accepts a few empty outputs; the derived side must then be <= 0 as well
        assert 0 in y.shape
        return
    derived = tuple(evaluate(d, {H: h, W: w}) for d in a.rows[-1].shape)
    assert derived == tuple(y.shape)
