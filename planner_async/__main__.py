"""``python -m planner_async``: the same as the ``planner-async`` command."""

from ._cli import main

raise SystemExit(main())
