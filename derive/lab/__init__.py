"""Code and experiments: the reference implementations the book prints, and the seeded,
laptop-scale experiments whose stored results the book renders.

Layout:

- :mod:`derive.lab.listings`: one module per "implement" part; the book prints the module's
  source as it is, and the tests import the same module and compare it with PyTorch.
- :mod:`derive.lab.experiments`: one module per experiment (the contract is in that
  package's docstring), listed in :data:`derive.lab.registry.EXPERIMENTS`.
- :mod:`derive.lab.runner`: runs an experiment deterministically, stores its results
  (``derive/lab/results/NAME.json``, committed data) and compares a re-run with them.
- :mod:`derive.lab.plots`: plots drawn from stored results (pgfplots and SVG).

Building the book reads the stored results only: it runs no training, needs neither PyTorch
nor scikit-learn, and its bytes do not depend on the machine.
"""
