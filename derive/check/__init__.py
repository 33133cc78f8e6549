"""The checker: claims in, verdicts out.

``verify`` is the one entry point for text and SymPy claims alike; derivations are checked
step by step with the same machinery (:mod:`derive.check.derivation`).
"""

from derive.check.verdict import Status, Verdict, weakest

__all__ = ["Status", "Verdict", "weakest"]
