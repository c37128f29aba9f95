"""The model contract: what ModelCentrality needs from a generative model.

A :class:`Model` is a generator (latents -> observations), an encoder (observations ->
codes), a latent prior (:class:`Prior`, or a :class:`MixedPrior` of continuous and
:class:`Categorical` variables) and the latent dims that are interpretable codes. Every
adapter (ONNX Runtime, PyTorch) subclasses :class:`Model`; the base class validates shapes
and finiteness, so every adapter fails with the same one-line error naming the model.
"""

from ._model import KINDS, Categorical, MixedPrior, Model, Prior

__all__ = ["KINDS", "Categorical", "MixedPrior", "Model", "Prior"]
