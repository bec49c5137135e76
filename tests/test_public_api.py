"""The package's public face: one namespace, public ``__module__`` names, lazy wings."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

import planner_async
from planner_async import Event, StructureError


def test_every_exported_class_and_function_names_the_package():
    """Like httpx, each public class or function says ``planner_async``, never a private module."""
    for name in planner_async.__all__:
        obj = getattr(planner_async, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert "planner_async" == obj.__module__, name


def test_all_lists_exactly_the_public_names():
    """``__all__`` has no duplicates, every entry resolves, and ``dir()`` shows them all."""
    names = planner_async.__all__
    assert len(set(names)) == len(names)
    assert set(names) <= set(dir(planner_async))
    for name in names:
        assert getattr(planner_async, name) is not None


def test_tracebacks_and_pickles_use_the_public_path():
    """An error's type prints as ``planner_async.StructureError``; models pickle by that path."""
    with pytest.raises(StructureError) as info:
        Event.from_dict({"id": "7", "title": "t"})
    assert "planner_async.StructureError" == f"{type(info.value).__module__}.StructureError"
    event = Event.from_dict({"id": 7, "title": "t", "odd": 1})
    assert event == pickle.loads(pickle.dumps(event))


def test_structure_error_is_exported_and_raised_by_from_dict():
    """``from_dict`` raises the exported ``StructureError`` (a ValueError) with the field path."""
    with pytest.raises(StructureError) as info:
        planner_async.EventPage.from_dict({"items": [{"id": 1, "title": 2}]})
    assert ("items", 0, "title") == info.value.path
    assert isinstance(info.value, ValueError)


def test_unknown_attribute_is_an_attribute_error():
    """The lazy ``__getattr__`` does not swallow typos."""
    with pytest.raises(AttributeError, match="no attribute 'PlanerClient'"):
        planner_async.PlanerClient  # noqa: B018


def test_import_leaves_the_wings_and_metadata_unloaded():
    """``import planner_async`` loads no pydantic, FastAPI, CLI, cryptography, converter,
    blocking client, nor asyncio itself (a program on trio never pays for it)."""
    wings = ["pydantic", "fastapi", "planner_async._cli", "cryptography", "redis"]
    wings += ["planner_async._converter", "planner_async._schema", "planner_async._blocking"]
    wings += ["asyncio", "importlib.metadata"]
    code = f"import sys, planner_async; print([m for m in {wings!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "[]" == out.stdout.strip()


def test_lazy_names_load_on_first_use():
    """``__version__`` and the Redis stores are real attributes once touched."""
    code = (
        "import sys, planner_async as p; v = p.__version__; "
        "print(isinstance(v, str), p.RedisTokenStore.__module__, 'redis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "True planner_async False" == out.stdout.strip()
