"""Exercise 8.11: Grad-CAM (needs a trained network and images: out of scope).

Heatmaps of a trained model on real images cannot be produced without training and data.
What the engine can derive is what Grad-CAM computes for the usual head of a small CNN
(global average pooling followed by one dense layer): the channel weights are the dense
layer's weights divided by the map's area, so Grad-CAM equals the class activation map up to
a positive factor.  The derivation is checked step by step (sums evaluated by the checker),
proved exactly for a small concrete size with SymPy's differentiation, and cross-checked
with central finite differences in NumPy (and PyTorch's autograd when installed).
"""

from derive.book import Part, Problem, Sheet

REASON = ("needs the network trained in exercise 8.10 and CIFAR-10 images; the book trains "
          "nothing")
SIZE = (3, 4, 4)       # (channels K, height, width) of the feature maps in the numeric check


def _torch():
    try:
        import torch
    except ImportError:  # PyTorch is optional
        return None
    return torch


def _symbols():
    import sympy

    H, W = sympy.symbols("H W", integer=True, positive=True)
    i, j, k, c = sympy.symbols("i j k c", integer=True, nonnegative=True)
    return H, W, i, j, k, c, sympy.IndexedBase("A"), sympy.IndexedBase("w")


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import numerical_gradient

    H, W, i, j, k, c, A, w = _symbols()
    sheet.text("Grad-CAM for class c: with A^k the k-th feature map of the last convolution "
               "(H x W) and y^c the class score, the channel weight is the spatial average of "
               "the score's gradient, alpha_k = (1/HW) sum_ij dy^c/dA^k_ij, and the heatmap is "
               "ReLU(sum_k alpha_k A^k), upsampled to the image. For the common head (global "
               "average pooling, then a dense layer with weights w[c, k]) the score is "
               "y^c = b_c + sum_k w[c, k] (1/HW) sum_ij A^k_ij, so each entry of A^k enters "
               "with the coefficient w[c, k]/(HW):")
    w_ck = sympy.Symbol("w_ck")
    sheet.derive("alpha_k", [
        (w_ck / (H * W) ** 2 * sympy.Sum(1, (i, 0, H - 1), (j, 0, W - 1)),
         "average over the H x W positions of the same gradient dy^c/dA^k_ij = w[c, k]/(HW)"),
        (w_ck / (H * W), "the sum counts the HW positions")],
        assume=["w_ck real"])
    sheet.text("Check of the gradient itself on a 2-channel, 2 x 2 map, differentiating the "
               "explicit score with SymPy:")
    K, h, wd = 2, 2, 2
    score = sum(w[c, q] * sympy.Rational(1, h * wd) * sum(A[q, a, b] for a in range(h)
                                                          for b in range(wd))
                for q in range(K))
    grads = sympy.ImmutableMatrix([[sympy.diff(score, A[q, a, b]) for a in range(h)
                                    for b in range(wd)] for q in range(K)])
    expected = sympy.ImmutableMatrix([[w[c, q] / (h * wd)] * (h * wd) for q in range(K)])
    sheet.claim(grads, expected, why="every entry of map k has gradient w[c, k]/(HW)",
                assume=["w real", "A real"])

    channels, rows, cols = SIZE
    rng = np.random.default_rng(11)
    maps = rng.standard_normal(SIZE)
    weights = rng.standard_normal(channels)

    def class_score(a):
        return float(weights @ a.reshape(channels, -1).mean(axis=1))

    grad = numerical_gradient(class_score, maps)
    alpha = grad.reshape(channels, -1).mean(axis=1)
    sheet.numeric([float(v) for v in alpha], [float(v) for v in weights / (rows * cols)],
                  tol=1e-8,
                  method=f"central finite differences of the score on random {channels}x"
                         f"{rows}x{cols} maps and random weights (NumPy, seed 11)")
    torch = _torch()
    if torch is not None:
        a = torch.tensor(maps, requires_grad=True)
        (torch.tensor(weights) @ a.mean(dim=(1, 2))).backward()
        sheet.numeric([float(v) for v in a.grad.mean(dim=(1, 2))],
                      [float(v) for v in weights / (rows * cols)], tol=1e-12,
                      method="PyTorch autograd in float64 (PyTorch installed)")
    cam = np.maximum(np.tensordot(weights, maps, axes=1), 0)
    gradcam = np.maximum(np.tensordot(alpha, maps, axes=1), 0)
    sheet.numeric(float(np.max(np.abs(gradcam * rows * cols - cam))), 0.0, tol=1e-6,
                  why="Grad-CAM times HW minus the class activation map",
                  method="the two heatmaps on the same random maps (NumPy)")
    sheet.text("So for this head Grad-CAM is the class activation map ReLU(sum_k w[c, k] A^k) "
               "scaled by 1/(HW), which does not change where the heatmap is bright. Producing "
               "the heatmaps for five real images still needs the trained network.")
    sheet.answer("alpha_k", w[c, k] / (H * W))


def solve_c(sheet: Sheet) -> None:
    import sympy

    H, W, _, _, _, _, _, w = _symbols()
    channels = SIZE[0]
    c1, c2 = sympy.symbols("c_1 c_2", integer=True, nonnegative=True)
    maps = [sympy.Symbol(f"A^{q}") for q in range(channels)]
    before = [sum(w[cl, q] / (H * W) * maps[q] for q in range(channels)) for cl in (c1, c2)]
    sheet.text(f"Before the ReLU, the two heatmaps use the same feature maps with different "
               f"weights; their difference (here with {channels} channels) weights each map "
               "by the difference of the two classes' dense-layer weights:")
    sheet.claim(before[0] - before[1],
                sum((w[c1, q] - w[c2, q]) / (H * W) * maps[q] for q in range(channels)),
                why="difference of the two classes' maps", assume=["w real", "A real"])
    sheet.explain(
        "The heatmap for a second class highlights the regions whose features that class's "
        "weights favour; where the predicted class relies on channels the other class weights "
        "negatively, one map is bright and the other dark. The actual pictures need the "
        "trained network.", rests_on=["8.11(b): alpha_k = w[c, k]/(HW)",
                                      "the difference identity above"])


PROBLEM = Problem(
    id="8.11", set="chapter8", order=11, title="Grad-CAM",
    source="Chapter 8, exercise 8.11",
    statement="Apply Grad-CAM to the small CNN trained in exercise 8.10.",
    parts=(
        Part("a", "Pick 5 correctly classified images from different classes.",
             scope="out-of-scope", reason=REASON),
        Part("b", "Compute their Grad-CAM heatmaps for the predicted class.", solve_b,
             scope="out-of-scope", reason=REASON),
        Part("c", "For one image, compute the heatmaps of the predicted class and of one other "
                  "class. How do they differ?", solve_c, scope="out-of-scope", reason=REASON),
        Part("d", "Find a correct prediction whose heatmap focuses on a suspicious region (for "
                  "example the background). What does that say about the learned features?",
             scope="out-of-scope", reason=REASON),
    ),
)
