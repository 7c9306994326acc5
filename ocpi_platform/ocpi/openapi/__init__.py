"""OpenAPI 3 description of every OCPI endpoint (drf-spectacular), served at /ocpi/schema/.

The views stay plain `OcpiView`s that declare, next to `ocpi_endpoint`, what the generator cannot guess from them:
`ocpi_operations = {"get": Op(...), ...}` (which canonical serializer a request or the `data` of a response
carries, pagination, query parameters, further HTTP statuses). The package:

- `types.py`: OCPI scalar types, path/query parameters, headers, the named enum types and module ids;
- `operations.py`: `Op`, `Many`, `Patch`, `AnyOf` (what views declare) and `undocumented_operations()`: a mounted
  OCPI view method without an `Op` is described with a generic envelope and reported there (a CI test keeps it
  empty);
- `schema.py`: `OcpiAutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) and the drf-spectacular extensions;
- `postprocess.py`: `postprocess_schema` (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]), `OcpiSchemaGenerator`
  (DEFAULT_GENERATOR_CLASS) and `generate_schema()`.

Like the rest of the transport layer it imports no app: serializers the view module does not import and enum
types are named by dotted path and imported while the schema is generated.
"""

from __future__ import annotations

from .operations import NO_DATA, AnyOf, Many, Op, Patch, operation_entry, undocumented_operations
from .postprocess import OcpiSchemaGenerator, generate_schema, postprocess_schema
from .schema import OcpiAutoSchema
from .types import ENUM_TYPES, MODULE_IDS

__all__ = [
    "ENUM_TYPES",
    "MODULE_IDS",
    "NO_DATA",
    "AnyOf",
    "Many",
    "OcpiAutoSchema",
    "OcpiSchemaGenerator",
    "Op",
    "Patch",
    "generate_schema",
    "operation_entry",
    "postprocess_schema",
    "undocumented_operations",
]
