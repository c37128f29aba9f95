"""Framework adapters that implement the model contract (installed as modelcentrality.adapters).

- :mod:`modelcentrality.adapters.onnx_runtime`: models exported to ONNX (no torch needed).
- :mod:`modelcentrality.adapters.pytorch`: in-memory ``torch.nn.Module`` pairs, and export
  to the zoo folder format. Imports torch, so it is only imported on demand.
- :func:`from_vae`, :func:`from_gan`: wrap a trained PyTorch VAE or GAN written to a
  common convention; :func:`from_pythae` and :func:`from_disent`: models of those
  libraries (optional extras). Each returns a :class:`TorchModel`.

The PyTorch names below are imported on first use, so that importing this package (as
the ONNX Runtime adapter does) never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the private module that defines it (all import torch).
_TORCH_NAMES = {
    "TorchModel": ".pytorch",
    "export_model": ".pytorch",
    "export_torch_model": ".pytorch",
    "from_vae": "._conventions",
    "from_gan": "._conventions",
    "from_pythae": "._libraries",
    "from_disent": "._libraries",
}

__all__ = sorted(_TORCH_NAMES)


def __getattr__(name: str) -> Any:
    if name not in _TORCH_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_TORCH_NAMES[name], __name__), name)
