"""EfficientNet's compound scaling: the rule, and how the published models depart from it.

Design rule: the rule and the published table are both data read from
``efficientnet.json`` (shipped with the package; Tan & Le, ICML 2019, and the official
builder's coefficients), parsed as exact rationals (``1.15`` is ``23/20``).  The rule says
depth ``d = alpha^phi``, width ``w = beta^phi``, resolution ``r = gamma^phi`` with
``alpha * beta^2 * gamma^2 ~ 2``, so FLOPs grow by ``(alpha*beta^2*gamma^2)^phi ~ 2^phi``.
The published B1..B7 coefficients do not follow the rule at integer ``phi``; this module
reports the differences (relative errors and the ``phi`` each published value implies) and
never adjusts either side to make them agree.

>>> alpha, beta, gamma = rule_coefficients()
>>> alpha, beta, gamma
(Fraction(6, 5), Fraction(11, 10), Fraction(23, 20))
>>> constraint_product()
Fraction(192027, 100000)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

from derive.errors import InputError, check_positive_int

__all__ = ["ScalingRow", "compare_published", "constraint_product", "flop_multiplier",
           "multipliers", "published", "reference", "rule_coefficients", "scaled_baseline"]

BASE_RESOLUTION = 224
"""B0's input side; the rule's resolution multiplier applies to it."""


@lru_cache(maxsize=1)
def reference() -> dict[str, Any]:
    """The shipped reference data (decimals as exact :class:`~fractions.Fraction`)."""
    text = resources.files("derive.arch").joinpath("efficientnet.json").read_text("utf-8")
    return json.loads(text, parse_float=Fraction)


def rule_coefficients() -> tuple[Fraction, Fraction, Fraction]:
    """``(alpha, beta, gamma)`` of the rule (depth, width, resolution bases)."""
    rule = reference()["rule"]
    return Fraction(rule["alpha"]), Fraction(rule["beta"]), Fraction(rule["gamma"])


def constraint_product() -> Fraction:
    """``alpha * beta^2 * gamma^2``, which the rule wants close to 2 (exactly 1.92027)."""
    alpha, beta, gamma = rule_coefficients()
    return alpha * beta**2 * gamma**2


def multipliers(phi: int) -> tuple[Fraction, Fraction, Fraction]:
    """``(d, w, r) = (alpha^phi, beta^phi, gamma^phi)``, exact.

    >>> [float(m) for m in multipliers(3)]
    [1.728, 1.331, 1.520875]
    """
    phi = check_positive_int("phi", phi, minimum=0)
    alpha, beta, gamma = rule_coefficients()
    return alpha**phi, beta**phi, gamma**phi


def flop_multiplier(phi: int) -> Fraction:
    """FLOP growth the rule predicts: ``d * w^2 * r^2 = (alpha*beta^2*gamma^2)^phi``.

    >>> round(float(flop_multiplier(3)), 4)
    7.0809
    """
    d, w, r = multipliers(phi)
    return d * w**2 * r**2


def scaled_baseline(phi: int, layers: int, channels: int,
                    resolution: int = BASE_RESOLUTION) -> dict[str, Fraction]:
    """A baseline of ``layers`` layers, ``channels`` channels and ``resolution`` pixels
    scaled by the rule (exact values; round them as the problem asks).

    >>> {k: float(v) for k, v in scaled_baseline(3, 18, 32).items()}
    {'layers': 31.104, 'channels': 42.592, 'resolution': 340.676}
    """
    layers = check_positive_int("layers", layers)
    channels = check_positive_int("channels", channels)
    resolution = check_positive_int("resolution", resolution)
    d, w, r = multipliers(phi)
    return {"layers": layers * d, "channels": channels * w, "resolution": resolution * r}


def published() -> dict[str, dict[str, Fraction]]:
    """The published per-model coefficients: ``{"b0": {"width", "depth", "resolution",
    "dropout"}, ...}`` as exact values."""
    return {name: {k: Fraction(v) for k, v in row.items()}
            for name, row in reference()["published"].items()}


@dataclass(frozen=True)
class ScalingRow:
    """The rule at ``phi`` against one published model.

    ``*_rule`` and ``*_published`` are exact; ``*_error`` is the relative error
    ``(published - rule) / rule`` (exact); ``*_phi`` is the ``phi`` the published value
    would need under the rule (a float, ``log(value)/log(base)``).
    """

    model: str
    phi: int
    depth_rule: Fraction
    depth_published: Fraction
    width_rule: Fraction
    width_published: Fraction
    resolution_rule: Fraction
    resolution_published: Fraction
    flops_rule: Fraction
    flops_published: Fraction

    @staticmethod
    def _err(published: Fraction, rule: Fraction) -> Fraction:
        return (published - rule) / rule

    @property
    def depth_error(self) -> Fraction:
        return self._err(self.depth_published, self.depth_rule)

    @property
    def width_error(self) -> Fraction:
        return self._err(self.width_published, self.width_rule)

    @property
    def resolution_error(self) -> Fraction:
        return self._err(self.resolution_published, self.resolution_rule)

    @property
    def flops_error(self) -> Fraction:
        return self._err(self.flops_published, self.flops_rule)

    def implied_phi(self) -> dict[str, float]:
        """The ``phi`` each published coefficient implies under the rule."""
        alpha, beta, gamma = rule_coefficients()
        return {
            "depth": math.log(self.depth_published) / math.log(alpha),
            "width": math.log(self.width_published) / math.log(beta),
            "resolution": math.log(self.resolution_published / BASE_RESOLUTION) / math.log(gamma),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (exact values as strings, errors also as floats)."""
        out: dict[str, Any] = {"model": self.model, "phi": self.phi}
        for key in ("depth", "width", "resolution", "flops"):
            rule, pub = getattr(self, f"{key}_rule"), getattr(self, f"{key}_published")
            err = getattr(self, f"{key}_error")
            out[key] = {"rule": str(rule), "rule_float": float(rule), "published": str(pub),
                        "relative_error": float(err)}
        out["implied_phi"] = self.implied_phi()
        return out


def compare_published(models: tuple[str, ...] = ("b1", "b2", "b3", "b4", "b5", "b6", "b7")
                      ) -> list[ScalingRow]:
    """The rule at ``phi = n`` against the published ``b<n>`` coefficients.

    The published FLOP multiplier is ``depth * width^2 * (resolution/224)^2``, the same
    idealisation the rule uses, so the two columns compare like with like.

    >>> row = compare_published(("b3",))[0]
    >>> row.width_rule, row.width_published, float(row.width_error)
    (Fraction(1331, 1000), Fraction(6, 5), -0.09842223891810668)
    """
    table = published()
    rows = []
    for model in models:
        if model not in table or not model.startswith("b") or not model[1:].isdigit():
            raise InputError(f"got model={model!r}; model must be one of "
                             + ", ".join(m for m in table if m != "b0"))
        phi = int(model[1:])
        d, w, r = multipliers(phi)
        pub = table[model]
        res_rule = BASE_RESOLUTION * r
        flops_pub = pub["depth"] * pub["width"]**2 * (pub["resolution"] / BASE_RESOLUTION)**2
        rows.append(ScalingRow(model, phi, d, pub["depth"], w, pub["width"], res_rule,
                               pub["resolution"], flop_multiplier(phi), flops_pub))
    return rows
