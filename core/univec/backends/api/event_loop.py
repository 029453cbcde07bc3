"""A private event loop in a daemon thread, so sync and async callers share one async engine."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["EventLoopThread"]

T = TypeVar("T")


class EventLoopThread:
    """Runs coroutines on one event loop owned by a background thread, started on first use.

    Everything that belongs to that loop (HTTP client, semaphore, rate limiter) is only
    touched from coroutines run here, whichever thread or loop the caller is on.

    Args:
        name: Name of the thread (shows in debuggers and thread dumps).
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the private loop and block until it finishes."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("EventLoopThread.run() called from its own loop: it would deadlock.")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._start())
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: stop the requests too
            raise

    async def arun(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` run on the private loop; cancelling the caller cancels it."""
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(
            coroutine, self._start()
        )
        return await asyncio.wrap_future(future)

    def close(self, final: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``final`` (e.g. closing clients) on the loop, then stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if final is not None:
                final.close()
            return
        if threading.current_thread() is thread:
            # Called on the loop itself (e.g. by a finalizer the garbage collector ran there):
            # waiting here would deadlock, so the loop winds itself down.
            loop.create_task(_wind_down(loop, final))
            return
        try:
            if final is not None:
                asyncio.run_coroutine_threadsafe(final, loop).result()
        finally:
            # Join the worker threads of asyncio.to_thread too: loop.close() would only
            # signal them, leaving them alive after close() returns.
            asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop).result()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()
                    if getattr(loop, "_univec_wound_down", False):
                        loop.close()

                thread = threading.Thread(target=serve, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop


async def _wind_down(
    loop: asyncio.AbstractEventLoop, final: Coroutine[Any, Any, Any] | None
) -> None:
    """Run ``final``, join the worker threads and stop ``loop`` (which then closes itself)."""
    try:
        if final is not None:
            await final
        await loop.shutdown_default_executor()
    finally:
        loop._univec_wound_down = True  # type: ignore[attr-defined]
        loop.stop()
