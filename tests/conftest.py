"""Settings for the whole test suite.

Hypothesis runs without its per-example deadline: the suite runs on every core at once, so
a 200 ms deadline fails on load rather than on a slow engine.  Speed is measured by the
benchmarks, never asserted in a test.
"""

from hypothesis import settings

settings.register_profile("derive", deadline=None)
settings.load_profile("derive")
