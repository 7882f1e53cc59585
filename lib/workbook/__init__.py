"""workbook: the library behind the deep-learning course notebooks.

Modules: ``runtime`` (seeds, device, profile), ``checks`` (what test cells call),
``numpy_nn`` (from-scratch NumPy layers), ``nn`` (PyTorch references), ``data``
(offline data sets), ``plots``, ``train`` and ``grading`` (the instructor tooling).
"""

__version__ = "0.1.0"
