"""Compatibility path documented since 0.1: ``from modelcentrality.backends import
ProcessBackend``. The backends live in :mod:`modelcentrality.execution`."""

from .execution import Backend, LocalBackend, ProcessBackend, make_backend

__all__ = ["Backend", "LocalBackend", "ProcessBackend", "make_backend"]
