"""``FileTokenStore``: the token state in a local file, so runs of a CLI reuse one session.

The file is JSON ``{"generation": n, "state": {...}}`` written with mode ``0600`` through
a temporary file and :func:`os.replace` (a reader sees the old file or the new one, never
half of one). The renewal lease is an exclusive ``flock`` on ``<path>.lock``; the kernel
drops it when its holder dies, and waiting for it is bounded by the lease timeout. A file
that cannot be read or parsed, or whose tokens fail the checks a login applies, counts as
empty: the client logs in again and overwrites it (one warning, without its content).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from ._checks import check_seconds
from ._exceptions import StoreUnavailableError
from ._stores import StoredToken, TokenState
from ._token_codec import parse_json, state_from_json, state_to_json

__all__ = ["FileTokenStore"]

log = logging.getLogger("planner_async")

_FORMAT = 1


class FileTokenStore:
    """A :class:`TokenStore` in one file (mode ``0600``), shared by the runs of a program.

    >>> store = FileTokenStore("~/.cache/planner-async/session.json")   # doctest: +SKIP
    >>> client = PlannerClient.from_env(token_store=store)

    Whoever can read the file can use the tokens until they expire (the refresh token
    lives 30 days): keep it in a private directory. The directory is created (``0700``)
    if missing. A file readable by others is used but logged as a warning.
    """

    __slots__ = ("_lock_path", "_path", "_poll", "_warned")

    def __init__(self, path: str | os.PathLike[str], *, poll: float = 0.05) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        self._path = Path(path).expanduser()
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._poll = check_seconds("poll", poll, positive=True)
        self._warned: int | None = None  # the hash of the last unreadable content warned of

    @property
    def path(self) -> Path:
        """The file holding the token state."""
        return self._path

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self._path)!r})"

    async def load(self) -> StoredToken:
        """The stored state and generation; empty when the file is missing or unusable."""
        return self._read()

    async def save(self, state: TokenState, *, expected: int) -> StoredToken | None:
        """Write ``state`` if the generation is still ``expected`` (atomic replace)."""
        current = self._read()
        if current.generation != expected:
            return None
        stored = StoredToken(state, expected + 1)
        self._write({"format": _FORMAT, "generation": expected + 1, "state": state_to_json(state)})
        return stored

    async def clear(self, *, expected: int) -> None:
        """Forget the state (keeping the generation) if the generation is ``expected``."""
        if self._read().generation == expected:
            self._write({"format": _FORMAT, "generation": expected + 1, "state": None})

    def lease(self, timeout: float) -> AbstractAsyncContextManager[None]:
        """The renewal lease: an exclusive ``flock`` on ``<path>.lock``, waited for up to
        ``timeout`` seconds (then :class:`StoreUnavailableError`)."""
        return self._hold(check_seconds("timeout", timeout))

    @asynccontextmanager
    async def _hold(self, limit: float) -> AsyncIterator[None]:
        self._ensure_dir()
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with anyio.move_on_after(limit):
                await _lock(fd, self._poll)
            if not _try_lock(fd):
                raise StoreUnavailableError(
                    f"the token file's lease was held by another process for over {limit:g} s"
                )
            yield
        finally:
            os.close(fd)  # closing drops the lock

    # -- file I/O ----------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _read(self) -> StoredToken:
        try:
            with open(self._path, "rb") as f:
                mode = os.fstat(f.fileno()).st_mode
                raw = f.read(1 << 20)
        except FileNotFoundError:
            return StoredToken(None, 0)
        except OSError as exc:
            log.warning(
                "token file %s unreadable (%s); logging in afresh", self._path, type(exc).__name__
            )
            return StoredToken(None, 0)
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("token file %s is accessible to other users; chmod 600 it", self._path)
        try:
            return _parse(raw)
        except ValueError as exc:
            if hash(raw) != self._warned:  # once per bad content, however often it is read
                self._warned = hash(raw)
                log.warning(
                    "token file %s is unusable (%s); logging in afresh and overwriting it",
                    self._path,
                    exc,
                )
            return StoredToken(None, 0)

    def _write(self, document: Mapping[str, Any]) -> None:
        self._ensure_dir()
        data = json.dumps(document, separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=f".{self._path.name}.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


async def _lock(fd: int, poll: float) -> None:
    """Wait for the ``flock`` (polling: the kernel offers no async wait for it)."""
    while True:
        if _try_lock(fd):
            return
        await anyio.sleep(poll)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _parse(raw: bytes) -> StoredToken:
    """The stored token from the file's bytes; ValueError (naming no content) if unusable."""
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    generation = document.get("generation")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise ValueError("bad generation")
    state = document.get("state")
    return StoredToken(None if state is None else state_from_json(state), generation)
