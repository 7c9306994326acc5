"""The response envelope (transport.md 5), PATCH bodies, and a validator that lists every problem at once."""

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError, create_model

from .types import DateTime, Int, OcpiModel

T = TypeVar("T")


class Envelope(OcpiModel, Generic[T]):
    """`{data?, status_code, status_message?, timestamp}`; `data` is what the module defines for 1xxx codes."""

    data: T | None = None
    status_code: Annotated[Int, Field(ge=1000, le=4999)]
    status_message: str | None = None
    timestamp: DateTime


_PARTIALS: dict[type[BaseModel], type[BaseModel]] = {}


def partial(model: type[BaseModel]) -> type[BaseModel]:
    """The PATCH body of `model` (transport.md 4.3): any subset of its fields, each valid as in the full object
    (a required field may be left out but not sent as null), and `last_updated` always present."""
    if model not in _PARTIALS:
        fields: dict[str, Any] = {}
        for name, info in model.model_fields.items():
            annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            fields[name] = (annotation, ...) if name == "last_updated" else (annotation, None)
        _PARTIALS[model] = create_model(f"{model.__name__}Patch", __base__=OcpiModel, **fields)
    return _PARTIALS[model]


def problems(model: Any, data: Any, where: str = "") -> list[str]:
    """Every validation error of `data` against `model` (a model class or a type such as list[Location]),
    one line each as `where: field.path: message (input)`; empty when valid."""
    from pydantic import TypeAdapter

    try:
        TypeAdapter(model).validate_python(data)
    except ValidationError as exc:
        return [
            f"{where}: {'.'.join(str(p) for p in error['loc'])}: {error['msg']} ({error.get('input')!r:.80})"
            for error in exc.errors()
        ]
    return []
