"""Files: the zoo folder format, float16 weight storage and atomic writes."""

from ._files import atomic_write, write_json
from ._half_weights import halve_graph_weights, halve_model_files, halve_zoo
from ._zoo import (
    ENCODER_FILE,
    FORMAT_VERSION,
    GENERATOR_FILE,
    METADATA_FILE,
    Zoo,
    load_model,
    load_zoo,
    model_folders,
    read_metadata,
)

__all__ = [
    "ENCODER_FILE",
    "FORMAT_VERSION",
    "GENERATOR_FILE",
    "METADATA_FILE",
    "Zoo",
    "atomic_write",
    "halve_graph_weights",
    "halve_model_files",
    "halve_zoo",
    "load_model",
    "load_zoo",
    "model_folders",
    "read_metadata",
    "write_json",
]
