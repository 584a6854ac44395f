"""Training for filmcolor's networks: ``python -m train --data DIR ...``.

Training needs the ``train`` extra (torch, safetensors, onnx, matplotlib);
inference (the ``filmcolor`` package) needs none of it.
"""

import importlib.util
import sys

# checked before any of them is imported: a missing one is one line, not a traceback
_NEEDS = ("torch", "safetensors", "onnx", "matplotlib")
_missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
if _missing:
    sys.exit(f"error: training needs {', '.join(_missing)}: "
             'pip install torch==2.13.0 "filmcolor[train]" (see the README for the CPU-only torch)')
