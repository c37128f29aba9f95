"""Files: the zoo folder format, float16 weight storage, atomic writes and the one
defensive reader every file goes through."""

from .._zoo_format import CACHE_MARKER, ENCODER_FILE, FORMAT_VERSION, GENERATOR_FILE, METADATA_FILE
from ._files import atomic_write, unwritable_folder_reason, unwritable_reason, write_json
from ._half_weights import halve_graph_weights, halve_model_files, halve_zoo
from ._read import (
    MAX_CACHE_ENTRY_BYTES,
    MAX_CHECKPOINT_BYTES,
    MAX_SMALL_JSON_BYTES,
    FieldProblem,
    FileReadError,
    SchemaError,
    check_field,
    open_regular,
    parse_json,
    read_bytes,
    read_json,
)
from ._zoo import Zoo, load_model, load_zoo, model_folders, read_metadata

__all__ = [
    "CACHE_MARKER",
    "ENCODER_FILE",
    "FORMAT_VERSION",
    "FileReadError",
    "GENERATOR_FILE",
    "MAX_CACHE_ENTRY_BYTES",
    "MAX_CHECKPOINT_BYTES",
    "MAX_SMALL_JSON_BYTES",
    "METADATA_FILE",
    "FieldProblem",
    "SchemaError",
    "Zoo",
    "atomic_write",
    "check_field",
    "halve_graph_weights",
    "halve_model_files",
    "halve_zoo",
    "load_model",
    "load_zoo",
    "model_folders",
    "open_regular",
    "parse_json",
    "read_bytes",
    "read_json",
    "read_metadata",
    "unwritable_folder_reason",
    "unwritable_reason",
    "write_json",
]
