"""The one cattrs converter between the wire's camelCase JSON and the models.

Every model is an ``attrs`` class deriving from ``_models.WireModel``; its wire names (camelCase
of the attribute, plus the renames the model declares once in ``__wire_renames__``) drive
cattrs' generated functions both ways. Structuring is strict: what the server sent is never
silently changed into a different value (no ``int(1001.9)``, no ``bool("false")``, no
``tuple("Politics")``):

- integers: JSON integers only (``1001.0`` and ``true`` are refused too);
- booleans: JSON ``true``/``false`` only; strings: JSON strings only;
- lists of strings: JSON arrays whose items are all strings;
- ``null`` (or a missing key) for an optional field means "not given": the default applies;
- unknown wire keys are kept in the model's ``extra`` and written back by ``to_dict()``.

A refused value raises :class:`StructureError` (a ``ValueError``) naming the field's path and
the JSON type found, never the value itself. Each model gets two generated functions: a fast
one for the usual case and, only when that fails, cattrs' detailed one, whose notes say which
field failed. A model that declares ``__wire_shared__`` (locations, organisers: immutable and
repeated across events) is shared: equal wire objects without unknown keys give one
instance, remembered by the model's hook (at most 2,048, then forgotten at once).
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._codec import STRICT, Hook, StructureError, kind, opt_str, refuse, wire_names

__all__ = ["converter"]

_SHARED_MAX = 2048

converter = cattrs.Converter()
"""The package's one converter: ``converter.structure(data, Event)`` is ``Event.from_dict``.

This module (and cattrs) is imported on the first structuring, through
``_models.converter()``, not by ``import planner_async``."""


def _is(expected: Any) -> Callable[[Any], bool]:
    return lambda tp: bool(tp == expected)


for _type, (_structure, _unstructure) in STRICT.items():
    if typing.get_origin(_type) is tuple:  # not a class or union: matched by a predicate
        converter.register_structure_hook_func(_is(_type), _structure)
        converter.register_unstructure_hook_func(_is(_type), _unstructure)
    else:
        converter.register_structure_hook(_type, _structure)
        converter.register_unstructure_hook(_type, _unstructure)


# --- hook factories: models, optional models, arrays of models, str enums ----------------


def _union_args(tp: Any) -> frozenset[Any]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return frozenset(typing.get_args(tp))
    return frozenset()


def _is_model(tp: Any) -> bool:
    """A model: an attrs class that declares its wire names (``_models.WireModel``)."""
    return isinstance(tp, type) and attrs.has(tp) and hasattr(tp, "__wire_renames__")


def _optional_model(tp: Any) -> Any:
    """``X`` when ``tp`` is ``X | None`` for a model ``X``, else None."""
    args = _union_args(tp) - {type(None)}
    if len(args) == 1 and len(_union_args(tp)) == 2:
        (model,) = args
        return model if _is_model(model) else None
    return None


def _model_array(tp: Any) -> Any:
    """``X`` when ``tp`` is ``tuple[X, ...]`` for a model ``X``, else None."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0] if _is_model(args[0]) else None
    return None


def _str_enum(tp: Any) -> Any:
    """``E`` when ``tp`` is ``E | str | None`` for a ``StrEnum`` ``E``, else None."""
    rest = _union_args(tp) - {str, type(None)}
    if len(rest) == 1 and len(_union_args(tp)) == 3:
        (enum_type,) = rest
        if isinstance(enum_type, type) and issubclass(enum_type, enum.StrEnum):
            return enum_type
    return None


def _field_overrides(model: type[Any]) -> dict[str, Any]:
    """cattrs overrides: the wire name of each field; null gives a non-None default."""
    attrs.resolve_types(model)
    overrides: dict[str, Any] = {"extra": override(omit=True)} if _has_extra(model) else {}
    for name, wire in wire_names(model).items():
        field = getattr(attrs.fields(model), name)
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        hook = None
        if default is not attrs.NOTHING and default is not None:
            hook = _null_is(default, converter.get_structure_hook(field.type | None))
        overrides[name] = override(rename=wire, struct_hook=hook)
    return overrides


def _null_is(default: Any, hook: Hook) -> Hook:
    def structure(value: Any, tp: Any) -> Any:
        return default if value is None else hook(value, tp)

    return structure


def _has_extra(model: type[Any]) -> bool:
    return any(field.name == "extra" for field in attrs.fields(model))


def _located(detailed: Hook, data: Mapping[str, Any], model: type[Any]) -> StructureError:
    """Run cattrs' detailed function to learn which field failed; that field's error."""
    try:
        detailed(data, model)
    except cattrs.ClassValidationError as group:
        exc = group.exceptions[0]  # the first failing field, in declaration order
        notes = getattr(exc, "__notes__", ())
        names = [n.name for n in notes if isinstance(n, cattrs.AttributeValidationNote)]
        where: tuple[str, ...] = (wire_names(model)[names[-1]],) if names else ()
        if isinstance(exc, StructureError):
            return StructureError((*where, *exc.path), exc.reason)
        if isinstance(exc, KeyError):
            return StructureError(where, "required field is missing")
        return StructureError(where, f"not accepted ({type(exc).__name__})")
    return StructureError((), "does not fit the model")  # pragma: no cover - fast path agreed


def _structure_model(tp: Any) -> Hook:
    """The hook for a model ``X`` or for ``X | None`` (then ``null`` gives None)."""
    optional = _optional_model(tp) is not None
    model = _optional_model(tp) if optional else tp
    overrides = _field_overrides(model)
    fast = make_dict_structure_fn(model, converter, _cattrs_detailed_validation=False, **overrides)
    detailed = make_dict_structure_fn(
        model, converter, _cattrs_detailed_validation=True, **overrides
    )
    known = frozenset(wire_names(model).values())
    keeps_extra = _has_extra(model)
    name = model.__name__
    shared: dict[Any, Any] | None = {} if getattr(model, "__wire_shared__", False) else None

    def structure(data: Any, _: Any = model) -> Any:
        if type(data) is not dict:
            if data is None and optional:
                return None
            if not isinstance(data, Mapping):
                raise StructureError((), f"expected a JSON object for {name}, got {kind(data)}")
        if shared is not None:
            try:
                return shared[tuple(data.items())]
            except (KeyError, TypeError):
                pass
        try:
            instance = fast(data, model)
        except (StructureError, KeyError):
            raise _located(detailed, data, model) from None
        if keeps_extra and not known.issuperset(data):
            extra = {key: value for key, value in data.items() if key not in known}
            return attrs.evolve(instance, extra=extra)
        if shared is not None:
            _share(shared, data, instance)
        return instance

    return structure


def _share(shared: dict[Any, Any], data: Mapping[str, Any], instance: Any) -> None:
    """Remember ``instance`` for wire objects with exactly these keys and values."""
    if len(shared) >= _SHARED_MAX:
        shared.clear()
    shared[tuple(data.items())] = instance


def _structure_model_array(tp: Any) -> Hook:
    model = _model_array(tp)
    hook: Callable[..., Any] = converter.get_structure_hook(model)
    expected = f"an array of {model.__name__} objects"

    def structure(data: Any, _: Any = None) -> tuple[Any, ...]:
        if type(data) is not list and type(data) is not tuple:
            refuse(expected, data)
        try:
            return tuple(map(hook, data))
        except StructureError:
            pass
        for index, item in enumerate(data):  # find the culprit again to name its index
            try:
                hook(item)
            except StructureError as exc:
                raise exc.under(index) from None
        raise AssertionError("unreachable")  # pragma: no cover

    return structure


def _structure_str_enum(tp: Any) -> Hook:
    members = {member.value: member for member in _str_enum(tp)}

    def structure(value: Any, _: Any = None) -> Any:
        if type(value) is str:
            return members.get(value, value)
        text = opt_str(value)
        return None if text is None else members.get(text, text)

    return structure


def _unstructure_model(model: type[Any]) -> Callable[[Any], dict[str, Any]]:
    renames: dict[str, Any] = {
        name: override(rename=wire) for name, wire in wire_names(model).items()
    }
    if _has_extra(model):
        renames["extra"] = override(omit=True)
    generated = make_dict_unstructure_fn(model, converter, **renames)
    if not _has_extra(model):
        return generated

    def unstructure(instance: Any) -> dict[str, Any]:
        out = generated(instance)
        for key, value in instance.extra.items():
            out.setdefault(key, value)  # a known field wins over an unknown one of that name
        return out

    return unstructure


converter.register_structure_hook_factory(
    lambda t: _is_model(t) or _optional_model(t) is not None, _structure_model
)
converter.register_structure_hook_factory(
    lambda t: _model_array(t) is not None, _structure_model_array
)
converter.register_structure_hook_factory(lambda t: _str_enum(t) is not None, _structure_str_enum)
converter.register_unstructure_hook_factory(_is_model, _unstructure_model)
converter.register_unstructure_hook_func(
    lambda t: _optional_model(t) is not None,
    lambda value: None if value is None else converter.unstructure(value),
)
converter.register_unstructure_hook_func(
    lambda t: _model_array(t) is not None,
    lambda value: [converter.unstructure(item) for item in value],
)
converter.register_unstructure_hook_func(
    lambda t: _str_enum(t) is not None, lambda value: None if value is None else str(value)
)
