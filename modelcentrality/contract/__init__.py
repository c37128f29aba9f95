"""The model contract: what ModelCentrality needs from a generative model.

A :class:`Model` is a generator (latents -> observations), an encoder (observations ->
codes), a latent :class:`Prior` and the latent dims that are interpretable codes. Every
adapter (ONNX Runtime, PyTorch) subclasses :class:`Model`; the base class validates shapes
and finiteness, so every adapter fails with the same one-line error naming the model.
"""

from ._model import KINDS, Model, Prior

__all__ = ["KINDS", "Model", "Prior"]
