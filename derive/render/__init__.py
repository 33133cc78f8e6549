"""Rendering the checked solutions: LaTeX and PDF (the book), Markdown (the docs).

Design rule: rendering only reads solved, checked blocks (:mod:`derive.book.model`) and never
checks or computes anything itself.  One notation table (:mod:`.printer`), one escaping
module (:mod:`.escape`), one template environment (:mod:`.env`); the pipeline reads top to
bottom in :func:`derive.render.build.build`.  Importing this package is cheap: SymPy is
loaded only by the modules that typeset mathematics, so a build with nothing to do never
imports it.
"""
