"""Names the dead-code check (vulture, run by ``.ci/run``) reports but that are used.

vulture reads this file beside the package (``[tool.vulture]`` in pyproject.toml); it is
never imported. A name used here counts as used everywhere, so keep each entry narrow and
say who uses it.
"""


def pydantic_hook_arguments(source: object, handler: object) -> tuple[object, object]:
    """pydantic calls ``__get_pydantic_core_schema__(source, handler)`` positionally.

    The models (``_models.py``) need only ``handler``; ``source`` is part of the hook's
    signature.
    """
    return source, handler
