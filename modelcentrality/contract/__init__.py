"""The model contract: what ModelCentrality needs from a generative model.

A :class:`Model` is a generator (latents -> observations), an encoder (observations ->
codes), a latent prior (:class:`Prior`, or a :class:`MixedPrior` of continuous and
:class:`Categorical` variables) and the latent dims that are interpretable codes. Every
adapter (ONNX Runtime, PyTorch) subclasses :class:`Model`; the base class validates shapes
and finiteness, so every adapter fails with the same one-line error naming the model.

The screening functions (:func:`probe_model`, :func:`screen_models`,
:func:`filter_by_shape`, :func:`skip_reason`, :func:`call_or_skip`) check that models can
work together before any long computation.
"""

from ._model import KINDS, MAX_LATENT_DIM, Categorical, MixedPrior, Model, Prior, checked_prior
from ._screening import call_or_skip, filter_by_shape, probe_model, screen_models, skip_reason

__all__ = [
    "KINDS",
    "MAX_LATENT_DIM",
    "Categorical",
    "MixedPrior",
    "Model",
    "Prior",
    "call_or_skip",
    "checked_prior",
    "filter_by_shape",
    "probe_model",
    "screen_models",
    "skip_reason",
]
