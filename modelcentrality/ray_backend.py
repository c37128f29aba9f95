"""Compatibility path documented since 0.1: ``from modelcentrality.ray_backend import
RayBackend``. The Ray backend lives in :mod:`modelcentrality.execution`."""

from .execution import RayBackend

__all__ = ["RayBackend"]
