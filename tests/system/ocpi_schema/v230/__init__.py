"""Pydantic models of OCPI 2.3.0 objects, from the 2.3.0 field tables (one module per OCPI module); common types
come from the 2.2.1 package where they are the same."""
