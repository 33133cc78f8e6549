"""The gradient-norm listing (exercise 8.14) and the pieces of the gradient-flow, time-series,
text-cnn and separable-speed experiments that can be checked without running them: each
against an independent computation."""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed")
F = torch.nn.functional

from derive.lab.experiments import (  # noqa: E402
    gradient_flow, separable_speed, text_cnn, time_series)
from derive.lab.listings import gradient_norms, source  # noqa: E402
from derive.lab import runner  # noqa: E402
from derive.lab.registry import experiment  # noqa: E402

pytestmark = pytest.mark.torch

MODULES = (gradient_flow, time_series, text_cnn, separable_speed)


# ---------------------------------------------------------------- the contract

@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.NAME)
def test_contract(module):
    assert experiment(module.NAME) is module
    assert module.EXERCISES and module.TITLE and module.SCALING
    for config in (module.QUICK, module.FULL):
        assert "seed" in config
        assert config == json.loads(json.dumps(config))
    for pattern, tol in module.TOLERANCES:
        assert isinstance(pattern, str) and (tol is None or tol >= 0)
    assert callable(module.run)


# ---------------------------------------------------------------- 8.14 listing

def _states_by_hand(model, x, train: bool, residual: bool):
    """h_0, ..., h_L from the layer weights with the functional operators."""
    states = [x]
    h = x
    for layer in model.layers:
        bn = layer.bn
        z = F.conv2d(h, layer.conv.weight, None, padding=1)
        if train:
            z = F.batch_norm(z, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)
        else:
            z = F.batch_norm(z, torch.zeros(z.shape[1], dtype=z.dtype),
                             torch.ones(z.shape[1], dtype=z.dtype), bn.weight, bn.bias,
                             training=False, eps=bn.eps)
        f = torch.clamp(z, min=0)
        h = h + f if residual else f
        states.append(h)
    return states


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_gradient_norms_equal_autograd_on_each_state(residual, train):
    shape = (2, 6, 8, 8)
    torch.manual_seed(3)
    model = gradient_norms.conv_bn_stack(5, channels=6, residual=residual)
    got = gradient_norms.measure_gradient_norms(model, shape, train_mode=train,
                                                generator=torch.Generator().manual_seed(7))
    assert len(got) == 6
    assert model.training is train
    # the same draws, in the same order: the input, then u
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(shape, generator=gen).requires_grad_(True)
    states = _states_by_hand(model, x, train, residual)
    u = torch.randn(states[-1].shape, generator=gen)
    grads = torch.autograd.grad((u * states[-1]).sum(), states)
    want = [float(g.double().norm()) for g in grads]
    assert want[-1] == pytest.approx(float(u.double().norm()), rel=1e-6)
    assert got == pytest.approx(want, rel=1e-5)


def _positive_seed() -> int:
    """A generator seed whose first draw (the input) is positive."""
    return next(s for s in range(100)
                if torch.randn(1, generator=torch.Generator().manual_seed(s)).item() > 0)


@pytest.mark.parametrize("residual", [False, True])
def test_gradient_norms_by_hand_one_pixel_one_channel(residual):
    """One channel, a 1 x 1 map, eval mode: layer l multiplies by c * w_l with
    c = 1/sqrt(1 + eps) (batch norm at initialisation) while everything stays positive, so
    dL/dh_0 = u * prod(c w_l) (plain) or u * prod(1 + c w_l) (residual)."""
    torch.manual_seed(0)
    model = gradient_norms.conv_bn_stack(2, channels=1, residual=residual)
    w = (0.5, 3.0)
    with torch.no_grad():
        for layer, value in zip(model.layers, w):
            layer.conv.weight.zero_()
            layer.conv.weight[0, 0, 1, 1] = value      # the only tap that sees the pixel
    seed = _positive_seed()
    got = gradient_norms.measure_gradient_norms(model, (1, 1, 1, 1), train_mode=False,
                                                generator=torch.Generator().manual_seed(seed))
    gen = torch.Generator().manual_seed(seed)
    torch.randn(1, generator=gen)
    u = abs(torch.randn(1, generator=gen).item())
    c = 1 / math.sqrt(1 + model.layers[0].bn.eps)
    step = [(1 + c * v) if residual else c * v for v in w]
    assert got == pytest.approx([u * step[0] * step[1], u * step[1], u], rel=1e-6)


def test_conv_bn_stack_structure():
    torch.manual_seed(5)
    plain = gradient_norms.conv_bn_stack(3, channels=4)
    torch.manual_seed(5)
    res = gradient_norms.conv_bn_stack(3, channels=4, residual=True)
    for model in (plain, res):
        assert isinstance(model.layers, torch.nn.ModuleList) and len(model.layers) == 3
        for layer in model.layers:
            conv = layer.conv
            assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding,
                    conv.bias) == (4, 4, (3, 3), (1, 1), None)
            assert isinstance(layer.bn, torch.nn.BatchNorm2d) and layer.bn.num_features == 4
    # the same seed gives the same weights: the two stacks differ only by the skips
    assert plain.state_dict().keys() == res.state_dict().keys()
    for key, value in plain.state_dict().items():
        assert torch.equal(value, res.state_dict()[key])
    x = torch.randn(2, 4, 5, 5)
    plain.eval()
    res.eval()
    with torch.no_grad():
        h_plain, h_res = x, x
        for layer in plain.layers:
            h_plain = torch.relu(layer.bn(layer.conv(h_plain)))
        for layer in res.layers:
            h_res = h_res + torch.relu(layer.bn(layer.conv(h_res)))
        assert torch.allclose(plain(x), h_plain) and torch.allclose(res(x), h_res)
        assert plain(x).shape == x.shape
    with pytest.raises(ValueError):
        gradient_norms.conv_bn_stack(0)


def test_gradient_norms_float64_copy_sees_the_same_input():
    torch.manual_seed(1)
    model = gradient_norms.conv_bn_stack(3, channels=4)
    a = gradient_norms.measure_gradient_norms(model, (1, 4, 6, 6), train_mode=False,
                                              generator=torch.Generator().manual_seed(2))
    b = gradient_norms.measure_gradient_norms(model.double(), (1, 4, 6, 6), train_mode=False,
                                              generator=torch.Generator().manual_seed(2))
    assert a == pytest.approx(b, rel=1e-5)


def test_listing_lines_fit_the_page():
    text = source("gradient_norms")
    assert "8.14" in text.split('"""')[1]
    assert all(len(line) <= 80 for line in text.splitlines())
    assert re.search(r"^import torch$", text, re.M)


def test_first_below_and_first_zero():
    norms = [1e-9, 1e-3, 0.5, 1.0]
    assert gradient_flow._first_below(norms, 1e-2) == 2
    assert gradient_flow._first_below(norms, 1e-12) is None
    assert gradient_flow._first_zero([0.0, 0.0, 1.0]) == 1
    assert gradient_flow._first_zero(norms) is None


# ---------------------------------------------------------------- 8.18 data

def _slope_and_residual(x):
    t = np.arange(x.shape[-1])
    coef = np.polyfit(t, x.T, 1)                      # (2, series)
    resid = x - (coef[0][:, None] * t + coef[1][:, None])
    return coef[0], resid.std(axis=1)


def test_time_series_classes_carry_their_signatures():
    per, steps = 40, 128
    x, y = time_series.generate(per, seed=1, channels=3, steps=steps, noise=0.3)
    assert x.shape == (5 * per, 3, steps) and x.dtype == np.float32
    assert np.array_equal(y, np.repeat(np.arange(5), per))
    chans = {k: x[y == k].reshape(-1, steps).astype(np.float64) for k in range(5)}
    slope, resid = {}, {}
    for k, v in chans.items():
        slope[k], resid[k] = _slope_and_residual(v)
    # trend: slopes drawn in [0.01, 0.03], only the noise (sd 0.3) around the line
    assert np.all((slope[0] > 0.005) & (slope[0] < 0.035))
    assert np.all(resid[0] < 0.4)
    # random walk: drift 0.05 per step on average, wandering far from any line, its power
    # at the lowest frequencies
    assert abs(np.mean((chans[4][:, -1] - chans[4][:, 0]) / (steps - 1)) - 0.05) < 0.01
    assert np.median(resid[4]) > 0.5

    def peaks(v):
        spec = np.abs(np.fft.rfft(v - v.mean(axis=1, keepdims=True), axis=1))
        return spec[:, 1:].argmax(axis=1) + 1

    assert np.mean(peaks(chans[4]) <= 3) > 0.9
    # oscillations: the strongest frequency is 6 to 10 cycles per series
    assert np.mean((peaks(chans[1]) >= 5) & (peaks(chans[1]) <= 11)) > 0.99
    assert np.mean((peaks(chans[3]) >= 5) & (peaks(chans[3]) <= 11)) > 0.9

    # damped: the oscillation dies out; the steady one does not
    def late_over_peak(v):
        d = v - v[:, -16:].mean(axis=1, keepdims=True)
        return np.abs(d[:, -16:]).max(axis=1) / np.max(np.abs(d), axis=1)

    assert np.median(late_over_peak(chans[3])) < 0.5
    assert np.median(late_over_peak(chans[1])) > 0.6

    # step: a piecewise-constant fit with one break explains the step channels down to the
    # noise, with a rise of 1.5 to 2.5, and fits them better than a line; the trend is
    # fitted better by a line
    def step_fit(v):
        resid, rise = [], []
        for row in v:
            best = min((np.concatenate([row[:b] - row[:b].mean(), row[b:] - row[b:].mean()]
                                       ).std(), row[b:].mean() - row[:b].mean())
                       for b in range(8, len(row) - 8))
            resid.append(best[0])
            rise.append(best[1])
        return np.array(resid), np.array(rise)

    fit = {k: step_fit(chans[k]) for k in (0, 1, 2)}
    assert np.all(fit[2][0] < 0.4) and np.all((fit[2][1] > 1.2) & (fit[2][1] < 2.8))
    assert np.mean(fit[2][0] < resid[2]) > 0.9
    assert np.mean(fit[0][0] > resid[0]) > 0.9
    assert np.median(fit[1][0]) > 0.6


def test_time_series_deterministic_by_seed():
    a = time_series.generate(5, seed=3)
    b = time_series.generate(5, seed=3)
    c = time_series.generate(5, seed=4)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_time_series_models_shapes():
    x = torch.randn(4, 3, 128)
    for name in time_series.MODELS:
        assert time_series.build(name, 3, 128).eval()(x).shape == (4, 5)


# ---------------------------------------------------------------- 8.16 / 8.17 corpus

POLARITY = {"not very good": -1, "not very bad": 1, "waste of time": -1,
            "absolutely loved": 1, "not good": -1, "not bad": 1, "very good": 1,
            "very bad": -1, "good": 1, "bad": -1}


def _label_by_text(tokens) -> int:
    """The planted rule read with string search: cut out the longest phrases first."""
    text = " " + " ".join(tokens) + " "
    score = 0
    for phrase in sorted(POLARITY, key=lambda p: -len(p.split())):
        n = text.count(f" {phrase} ")
        score += n * POLARITY[phrase]
        text = text.replace(f" {phrase} ", " | ")
    return int(score > 0)


def test_corpus_labels_follow_the_planted_rule():
    reviews, labels, clean = text_cnn.make_corpus(1500, seed=5, words=300, min_len=20,
                                                  max_len=60, label_noise=0.1)
    assert len(reviews) == len(labels) == len(clean) == 1500
    assert all(20 <= len(r) <= 60 for r in reviews)
    assert [_label_by_text(r) for r in reviews] == clean
    assert [text_cnn.rule_label(r) for r in reviews] == clean
    flipped = sum(a != b for a, b in zip(labels, clean))
    assert 0.06 * 1500 < flipped < 0.14 * 1500
    assert 0.4 < np.mean(clean) < 0.6
    fillers = {t for r in reviews for t in r if re.fullmatch(r"w\d+", t)}
    assert all(0 <= int(t[1:]) < 300 for t in fillers)
    # every review plants 1 or 2 phrases of its label's polarity
    for r, lab in zip(reviews, clean):
        found = text_cnn.phrases_in(r)
        assert 1 <= len(found) <= 2
        assert {text_cnn.PHRASES[p] for _, p in found} == {1 if lab else -1}


def test_corpus_deterministic_and_negation_present():
    a = text_cnn.make_corpus(200, seed=9)
    assert a == text_cnn.make_corpus(200, seed=9)
    assert a != text_cnn.make_corpus(200, seed=10)
    text = [" ".join(r) for r in a[0]]
    # 'good' occurs in reviews of both labels: no single word decides
    for word in ("good", "bad", "not"):
        labels = {lab for t, lab in zip(text, a[2]) if f" {word} " in f" {t} "}
        assert labels == {0, 1}


def test_vocabulary_cut_and_encoding():
    reviews, _, _ = text_cnn.make_corpus(300, seed=2, words=500, min_len=13, max_len=40)
    vocab = text_cnn.build_vocab(reviews, top_n=50)
    assert len(vocab) == 52 and vocab["<pad>"] == 0 and vocab["<unk>"] == 1
    assert sorted(vocab.values()) == list(range(52))
    from collections import Counter
    counts = Counter(t for r in reviews for t in r)
    kept = [t for t in vocab if t not in ("<pad>", "<unk>")]
    assert min(counts[t] for t in kept) >= max(counts[t] for t in counts if t not in vocab)
    ids = text_cnn.encode(reviews, vocab, max_len=30)
    assert ids.shape == (300, 30)
    for r, row in zip(reviews, ids):
        n = min(len(r), 30)
        assert row[:n].tolist() == [vocab.get(t, 1) for t in r[:30]]
        assert (row[n:] == 0).all()


def test_ngram_activation_is_a_conv1d_of_the_window():
    torch.manual_seed(0)
    config = dict(text_cnn.QUICK, embed=6, filters=4)
    model = text_cnn.build("textcnn", 40, config)
    ids = torch.randint(2, 40, (3, 12))
    e = model.embedding.weight.detach()
    for b, k in enumerate(model.kernels):
        conv = model.convs[b]
        windows = ids.unfold(1, k, 1).reshape(-1, k)               # (3 * (13 - k), k)
        got = text_cnn.ngram_activations(e, conv.weight.detach(), windows)
        want = torch.stack([F.conv1d(e[w].T[None], conv.weight.detach())[0, :, 0]
                            for w in windows], dim=1)
        assert torch.allclose(got, want, atol=1e-5)
        # and the model's own convolution over whole reviews, bias taken off
        with torch.no_grad():
            full = conv(model.embed(ids)) - conv.bias[None, :, None]
        assert torch.allclose(got, full.permute(1, 0, 2).reshape(len(conv.weight), -1),
                              atol=1e-5)


def test_text_models_shapes():
    config = dict(text_cnn.QUICK, embed=8, filters=3)
    ids = torch.randint(0, 30, (2, 20))
    for name in ("textcnn", "bow", "k2", "k5"):
        assert text_cnn.build(name, 30, config).eval()(ids).shape == (2, 2)
    assert len(text_cnn.build("textcnn", 30, config).convs) == 4


# ---------------------------------------------------------------- 8.19(c)

def test_flop_ratio_is_one_over_c_out_plus_one_over_k_squared():
    assert separable_speed.flop_ratio(512, 512, 3) == Fraction(1, 512) + Fraction(1, 9)
    assert separable_speed.flop_ratio(512, 512, 3) == Fraction(521, 4608)
    for c_in, c_out, k in ((3, 7, 5), (64, 128, 3), (1, 1, 1), (256, 32, 7)):
        assert separable_speed.flop_ratio(c_in, c_out, k) == Fraction(1, c_out) + Fraction(1, k * k)


def test_separable_layers_and_shapes():
    standard, depthwise, pointwise = separable_speed.layers(16, 3)
    assert depthwise.groups == 16 and depthwise.weight.shape == (16, 1, 3, 3)
    assert pointwise.weight.shape == (16, 16, 1, 1)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert standard(x).shape == pointwise(depthwise(x)).shape == x.shape
    # multiply-adds per output position, counted from the weight shapes
    ratio = Fraction(depthwise.weight.numel() + pointwise.weight.numel(), standard.weight.numel())
    assert ratio == separable_speed.flop_ratio(16, 16, 3)


def test_separable_macs_counted_from_the_outputs():
    b, c, n, k = 2, 6, 5, 3
    standard, depthwise, pointwise = separable_speed.layers(c, k)
    x = torch.randn(b, c, n, n)
    with torch.no_grad():
        outputs = {"standard": standard(x).numel(), "depthwise": depthwise(x).numel(),
                   "pointwise": pointwise(depthwise(x)).numel()}
    # every output value sums its weights' taps: C_in k^2, k^2 and C_in of them
    taps = {"standard": standard.weight[0].numel(), "depthwise": depthwise.weight[0].numel(),
            "pointwise": pointwise.weight[0].numel()}
    macs = separable_speed.macs(b, c, n, k)
    for name in taps:
        assert macs[name] == outputs[name] * taps[name], name
    assert macs["separable"] == macs["depthwise"] + macs["pointwise"]


def test_separable_sweep_run_on_small_layers():
    config = dict(separable_speed.QUICK, batch=1, size=6, channels=16, warmup=1, repeats=3,
                  sweep_channels=[2, 4, 16])
    calls = []
    r = separable_speed.run(config, lambda done, total: calls.append((done, total)))
    s = r["sweep"]
    assert calls[-1] == (3, 3)
    assert s["channels"] == [2, 4, 16] and s["timings"] == [6, 3, 3]  # 16 // (4 * 2) = 2
    assert s["output_shapes_equal"] and r["output_shape"] == [1, 16, 6, 6]
    for i, c in enumerate(s["channels"]):
        each = {name: times[i] for name, times in s["seconds_each"].items()}
        assert all(len(t) == s["timings"][i] for t in each.values())
        medians = {name: statistics.median(t) for name, t in each.items()}
        assert s["measured_speedup"][i] == medians["standard"] / medians["separable"]
        assert Fraction(s["predicted_flop_ratio_fraction"][i]) == Fraction(1, c) + Fraction(1, 9)
        assert s["macs"]["standard"][i] == 36 * c * c * 9
    # the top level is the exercise's channel count, the sweep's last entry
    assert r["seconds"] == {name: t[2] for name, t in s["seconds"].items()}
    assert r["measured_speedup"] == s["measured_speedup"][2]
    assert r["params"]["standard"] == 16 * 16 * 9 + 16
    with pytest.raises(ValueError):
        separable_speed.run(dict(config, sweep_channels=[2, 4]), lambda done, total: None)


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in runner.PINNED_KERNELS}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_experiments_run_on_pinned_kernels() -> None:
    """The lab pins PyTorch's CPU kernels before importing it: AVX2 (or plain) code paths,
    whatever the processor offers, so a re-run elsewhere repeats the stored numbers."""
    got = _fresh_python("from derive.lab import runner; runner.require_packages(); "
                        "import torch; runner.deterministic(1); "
                        "print(torch.backends.cpu.get_cpu_capability())")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() in ("AVX2", "DEFAULT")


def test_an_experiment_on_unpinned_kernels_is_refused() -> None:
    got = _fresh_python("import torch\nfrom derive.lab import runner\n"
                        "try:\n    runner.deterministic(1)\n"
                        "except runner.LabError as exc:\n    print(exc)\n")
    assert got.returncode == 0, got.stderr
    assert "kernels are not pinned" in got.stdout and "ATEN_CPU_CAPABILITY=avx2" in got.stdout
