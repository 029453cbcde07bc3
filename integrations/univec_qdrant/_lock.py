"""One open handle per Qdrant Edge shard directory, across threads and processes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from univec.errors import CollectionError

try:  # POSIX; on Windows only the in-process registry applies
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "PathLock"]

#: The lock file, inside the shard directory (Qdrant Edge ignores files it does not know).
LOCK_FILE = "univec.lock"

_registry_lock = threading.Lock()
_held: set[str] = set()


class PathLock:
    """An exclusive lock on a shard directory, taken before Qdrant Edge opens anything in it.

    Held by one handle in the whole machine: a second :meth:`acquire` of the same directory
    (this process or another) raises at once, touching nothing.
    """

    def __init__(self, key: str, descriptor: int | None) -> None:
        self._key = key
        self._descriptor = descriptor

    @classmethod
    def acquire(cls, path: Path) -> PathLock:
        """Lock ``path`` (created if missing).

        Raises:
            CollectionError: The directory is in use by another handle, in this or another
                process; the message names it.
        """
        path.mkdir(parents=True, exist_ok=True)
        key = str(path.resolve())
        in_use = CollectionError(
            f"The Qdrant Edge collection at {str(path)!r} is in use: it is already open in "
            "another QdrantCollection (in this or another process), and one handle may hold a "
            "path at a time. Close the other one first, or use another path."
        )
        with _registry_lock:
            if key in _held:
                raise in_use
            descriptor = None
            if fcntl is not None:
                descriptor = os.open(os.path.join(key, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    os.close(descriptor)
                    raise in_use from None
            _held.add(key)
        return cls(key, descriptor)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        with _registry_lock:
            descriptor, self._descriptor = self._descriptor, None
            if descriptor is not None:
                os.close(descriptor)  # closing the descriptor drops its flock
            _held.discard(self._key)
            self._key = ""
