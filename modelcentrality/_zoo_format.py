"""The names of the zoo folder format (version 1); :mod:`modelcentrality.io` documents the
format, reads it and re-exports these names.

They sit in a module of their own, below ``io`` and ``adapters``, because both use them:
``io`` loads zoos through the adapters, and the adapters export models into zoo folders.
"""

#: The ``"format"`` of the ``model.json`` this version reads and writes.
FORMAT_VERSION = 1
METADATA_FILE = "model.json"
ENCODER_FILE = "encoder.onnx"
GENERATOR_FILE = "generator.onnx"
#: A folder holding this file is a pair cache (``rank --cache``), never a model.
CACHE_MARKER = ".modelcentrality-cache"
