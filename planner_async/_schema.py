"""The pydantic-core schema of a model (what ``response_model=Event`` and OpenAPI use).

Written once for every model (``_models.WireModel``): pydantic validates by
calling ``from_dict`` (instances pass through; a ``StructureError`` is a ``ValueError``, which
pydantic reports as a ``ValidationError``) and serialises with ``to_dict``. The JSON schema,
in both modes, is the wire's object shape under the model's own name, so FastAPI's OpenAPI
shows a named ``Event`` component. pydantic is imported only when it asks for a schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._codec import wire_names

__all__ = ["model_schema"]


def model_schema(model: type[Any], handler: Callable[[Any], Any]) -> Any:
    """A pydantic-core schema for a model with ``from_dict``/``to_dict``."""
    from pydantic_core import core_schema

    fields = {}
    for name, wire in wire_names(model).items():
        field = getattr(attrs.fields(model), name)  # types resolved when the model was made
        required = field.default is attrs.NOTHING
        fields[wire] = core_schema.typed_dict_field(handler(field.type), required=required)
    wire_shape = core_schema.typed_dict_schema(
        fields, cls_name=model.__name__, extra_behavior="allow"
    )

    def validate(value: Any) -> Any:
        return value if isinstance(value, model) else model.from_dict(value)

    def json_schema(_schema: Any, json_handler: Callable[[Any], Any]) -> Any:
        return json_handler(wire_shape)  # both modes: the wire's object shape

    return core_schema.no_info_plain_validator_function(
        validate,
        json_schema_input_schema=wire_shape,  # in the tree, so nested models' refs resolve
        serialization=core_schema.plain_serializer_function_ser_schema(_to_dict),
        metadata={"pydantic_js_functions": [json_schema]},
        ref=f"planner_async.{model.__qualname__}",
    )


def _to_dict(model: Any) -> Any:
    return model.to_dict()
