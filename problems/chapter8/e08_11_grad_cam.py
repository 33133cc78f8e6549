"""Exercise 8.11: Grad-CAM (needs a trained network and images: out of scope).

Heatmaps of a trained model on real images cannot be produced without training and data.
What the engine can derive is what Grad-CAM computes for the usual head of a small CNN
(global average pooling followed by one dense layer): the channel weights are the dense
layer's weights divided by the map's area, so Grad-CAM equals the class activation map up to
a positive factor.  The gradient is differentiated term by term and checked step by step,
and cross-checked with central finite differences in NumPy (and PyTorch's autograd where it
is installed; the page is the same either way).
"""

from derive.book import Part, Problem, Sheet

REASON = ("needs the network trained in exercise 8.10 and CIFAR-10 images; the book trains "
          "nothing")
SIZE = (3, 3, 3)       # (channels K, height, width) of the feature maps in the numeric check


def _symbols():
    import sympy

    H, W = sympy.symbols("H W", integer=True, positive=True)
    i, j, k, c = sympy.symbols("i j k c", integer=True, nonnegative=True)
    return H, W, i, j, k, c, sympy.IndexedBase("A"), sympy.IndexedBase("w")


def _gradient_steps():
    """The class score's gradient for one entry ``A[k, a, b]``, differentiated term by term."""
    import sympy

    H, W, i, j, k, c, A, w = _symbols()
    K = sympy.Symbol("K", integer=True, positive=True)
    q, a, b = sympy.symbols("q a b", integer=True, nonnegative=True)
    score = sympy.Sum(w[c, q] / (H * W) * sympy.Sum(A[q, i, j], (i, 0, H - 1), (j, 0, W - 1)),
                      (q, 0, K - 1))
    grad = sympy.Derivative(score, A[k, a, b])
    picked = sympy.Sum(w[c, q] * sympy.KroneckerDelta(k, q) / (H * W), (q, 0, K - 1))
    return [(grad, "the score of the head: pooling, then the dense layer (bias left out, its "
                   "gradient is 0)"),
            (grad.doit(), "differentiate term by term"),
            (picked, "the sums over $i$ and $j$ keep the one term $i == a$, $j == b$"),
            (w[c, k] / (H * W), "the sum over $q$ keeps the term $q == k$")], \
        ["k <= K - 1", "a <= H - 1", "b <= W - 1", "w real", "A real"]


def solve_b(sheet: Sheet) -> None:
    import numpy as np
    import sympy

    from derive.numeric import numerical_gradient

    H, W, i, j, k, c, A, w = _symbols()
    sheet.text("Grad-CAM for class $c$: with $A[k]$ the $k$-th feature map of the last "
               "convolution (entries $A[k, i, j]$ on an $H$×$W$ grid) and $y_c$ the class "
               "score, the channel weight $alpha_k$ is the average over the $H*W$ positions "
               "of the gradient $Derivative(y_c, A[k, i, j])$, and the heatmap is the ReLU of "
               "the maps weighted by $alpha_k$ and summed over $k$, upsampled to the image. "
               "For the common head (global average pooling, then a dense layer with weights "
               "$w[c, k]$ and bias $b_c$) the score is $b_c$ plus, summed over the $K$ maps, "
               "$w[c, k]$ times the average of map $A[k]$. Its gradient at one entry "
               "$A[k, a, b]$:")
    steps, assume = _gradient_steps()
    sheet.derive("", steps, assume=assume)
    sheet.text("The gradient is the same at every position, so its average is itself:")
    sheet.derive("alpha_k", [
        (w[c, k] / (H * W) ** 2 * sympy.Sum(1, (i, 0, H - 1), (j, 0, W - 1)),
         "average over the $H*W$ positions of the same gradient"),
        (w[c, k] / (H * W), "the sum counts the $H*W$ positions")],
        assume=["w real"])

    channels, rows, cols = SIZE
    rng = np.random.default_rng(11)
    maps = rng.standard_normal(SIZE)
    weights = rng.standard_normal(channels)

    def class_score(a):
        return float(weights @ a.reshape(channels, -1).mean(axis=1))

    grad = numerical_gradient(class_score, maps)
    alpha = grad.reshape(channels, -1).mean(axis=1)
    sheet.text(f"Numerically, on {channels} random maps of {rows}×{cols} entries and "
               f"{channels} random dense-layer weights for the class (standard normal, NumPy's "
               "generator with seed 11, maps first):")
    expected = [float(v) for v in weights / (rows * cols)]
    sheet.numeric(expected, [float(v) for v in alpha], tol=1e-8,
                  why="the channel weights $alpha_k$",
                  method="central finite differences of the score, averaged over the map "
                         "(NumPy)")

    def by_autograd(torch):
        a = torch.tensor(maps, requires_grad=True)
        (torch.tensor(weights) @ a.mean(dim=(1, 2))).backward()
        return [float(v) for v in a.grad.mean(dim=(1, 2))]

    sheet.numeric_if_installed("torch", expected, by_autograd, tol=1e-12,
                               why="the channel weights $alpha_k$",
                               method="PyTorch's autograd in float64")
    cam = np.maximum(np.tensordot(weights, maps, axes=1), 0)
    gradcam = np.maximum(np.tensordot(alpha, maps, axes=1), 0)
    sheet.numeric(cam, gradcam * rows * cols, tol=1e-6,
                  why="class activation map",
                  method=f"Grad-CAM heatmap from the finite-difference weights, times "
                         f"${rows}*{cols}$ (NumPy)")
    sheet.text("So for this head Grad-CAM is the class activation map (the ReLU of the maps "
               "weighted by $w[c, k]$) divided by $H*W$, which does not change where the "
               "heatmap is bright. Producing the heatmaps for five real images still needs "
               "the trained network.")
    sheet.answer("alpha_k", w[c, k] / (H * W))


def solve_c(sheet: Sheet) -> None:
    import sympy

    H, W, _, _, _, _, A, w = _symbols()
    channels = SIZE[0]
    c1, c2 = sympy.symbols("c_1 c_2", integer=True, nonnegative=True)
    maps = [A[q] for q in range(channels)]
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
        "trained network.", rests_on=["8.11(b): the channel weights of Grad-CAM for this head",
                                      "8.11(c): the difference of the two heatmaps"])


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
