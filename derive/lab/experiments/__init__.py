"""The experiments.  Each module here is one experiment and defines:

``NAME``
    Its key (``"gradient-flow"``); its results are stored in ``results/NAME.json``.
``EXERCISES``
    The exercise parts it answers, e.g. ``("8.14(a)", "8.14(b)")``.
``TITLE``
    One line saying what it measures.
``QUICK`` and ``FULL``
    Configurations (JSON-able dicts, each with a ``"seed"``): ``QUICK`` runs in at most about
    60 s on two CPU cores; ``FULL`` is the exercise's original scale.
``SCALING``
    A sentence saying plainly how ``QUICK`` differs from the exercise as posed (data, sizes,
    epochs), or that it runs as posed.
``TOLERANCES``
    ``(pattern, tolerance)`` pairs, first match wins: ``pattern`` is an :mod:`fnmatch`
    pattern over the dotted paths of the numbers in the results (``"plain.train.*"``), and
    ``tolerance`` an absolute tolerance for ``derive lab check``, or ``None`` for a number
    that is not compared (a wall-clock time).  A number no pattern matches must be equal.
``run(config, progress) -> dict``
    Runs the experiment and returns its results: a JSON-able dict of numbers, strings and
    lists.  ``progress(done, total)`` reports progress.  The runner has already seeded
    PyTorch, NumPy and Python's ``random`` with ``config["seed"]``, made PyTorch
    deterministic and fixed its thread count; ``run`` must not depend on anything else that
    varies (time, the order of a set, the machine), except measured times, which are
    reported as such.
"""
