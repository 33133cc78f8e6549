"""Exercise 8.12(a)(b): mixup, the batch mixer and the loss that goes with it.

``mixup_data`` draws one weight lam from Beta(alpha, alpha) per batch, pairs
every example with a partner from a random permutation of the same batch and
returns the convex combination lam * x + (1 - lam) * partner, with both label
vectors.  ``mixup_loss`` weights the cross-entropy against each label vector
the same way, which equals the cross-entropy against the mixed one-hot
target because cross-entropy is linear in the target.
"""

import torch
import torch.nn.functional as F


def sample_lam(alpha: float,
               generator: torch.Generator | None = None) -> float:
    """One draw of lam ~ Beta(alpha, alpha); alpha <= 0 means no mixing."""
    if alpha <= 0:
        return 1.0
    a = torch.tensor(float(alpha), dtype=torch.float64)
    beta = torch.distributions.Beta(a, a)
    if generator is None:
        return float(beta.sample())
    # Beta sampling reads PyTorch's global generator.  Seed a private copy of
    # it from `generator`, so that the caller's generator alone decides lam
    # and the global stream is left as it was.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return float(beta.sample())


def mixup_data(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float = 0.2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Mix a batch x (B, C, H, W) with labels y (B,).

    Returns (mixed_x, y_a, y_b, lam): mixed_x[i] = lam * x[i] +
    (1 - lam) * x[p[i]] for a random permutation p, y_a = y and y_b = y[p].
    """
    lam = sample_lam(alpha, generator)
    # A permutation of the batch rather than a second batch: the partners
    # cost nothing to load and every example is used once on each side.
    partner = torch.randperm(x.shape[0], generator=generator)
    mixed_x = lam * x + (1.0 - lam) * x[partner]
    return mixed_x, y, y[partner], lam


def mixup_loss(
    logits: torch.Tensor,
    y_a: torch.Tensor,
    y_b: torch.Tensor,
    lam: float,
) -> torch.Tensor:
    """lam * CE(logits, y_a) + (1 - lam) * CE(logits, y_b), batch means."""
    return (lam * F.cross_entropy(logits, y_a)
            + (1.0 - lam) * F.cross_entropy(logits, y_b))
