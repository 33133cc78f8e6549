"""Real architectures as data, and what the engine derives from them.

:mod:`derive.arch.catalog` generates the specs (torchvision layouts),
:mod:`derive.arch.summary` derives parameters, FLOPs, shapes and receptive fields,
:mod:`derive.arch.scaling` states EfficientNet's compound-scaling rule and compares it with
the published coefficients.
"""
