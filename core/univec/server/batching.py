"""Dynamic batching: concurrent requests share forward passes.

Requests wait in one bounded queue. A single worker takes the oldest request and every queued
request of the same task family after it (tasks sharing a LoRA adapter, e.g.
``retrieval.query`` and ``retrieval.passage``: switching adapters costs a re-merge of the
weights), up to a token budget and an input count, and encodes them with one backend call per
task (the local backend then packs each into padded forward passes by its own token budget). While that runs, new requests queue up and form the next batch, so under load
many small requests cost about what one large one does, and an idle server answers a lone
request at once: there is no fixed wait.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import time
from dataclasses import dataclass, field

import numpy as np

from univec.backends.base import Backend, Embeddings
from univec.inputs import Image
from univec.server.metrics import Metrics
from univec.tasks import TaskSpec

__all__ = ["DynamicBatcher", "QueueFull", "ShuttingDown"]


class QueueFull(Exception):
    """The queue holds as many inputs as allowed; the request should be retried later."""


class ShuttingDown(Exception):
    """The server is draining: it finishes what it has and takes nothing new."""


@dataclass(eq=False)
class _Job:
    items: list[str | Image]
    task: TaskSpec
    dense: bool
    multi: bool
    tokens: int
    future: asyncio.Future[Embeddings]
    queued_at: float = field(default_factory=time.monotonic)


class DynamicBatcher:
    """Queues encoding requests and runs them in shared backend calls, one at a time.

    Args:
        backend: The encoder backend (``Encoder.backend``).
        max_batch_tokens: Most estimated tokens taken into one backend call (at least one
            request is always taken, however large).
        max_batch_inputs: Most inputs taken into one backend call.
        max_queue_inputs: Most inputs waiting in the queue; past it :meth:`submit` raises
            :class:`QueueFull` (the server answers 503 with ``Retry-After``).
        batching: ``False`` runs every request alone (one request per backend call): the
            baseline of ``benchmarks/serve.py``.
        metrics: Where batch sizes and queue depth are recorded.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_batch_tokens: int,
        max_batch_inputs: int,
        max_queue_inputs: int,
        batching: bool = True,
        metrics: Metrics | None = None,
    ) -> None:
        self.backend = backend
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_inputs = max_batch_inputs
        self.max_queue_inputs = max_queue_inputs
        self.batching = batching
        self.metrics = metrics or Metrics()
        self._queue: collections.deque[_Job] = collections.deque()
        self._queued_inputs = 0
        self._wakeup: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, "univec-serve-encode")
        self._accepting = True
        #: Backend calls made, and inputs encoded, since start.
        self.batches = 0
        self.inputs = 0

    @property
    def queued_inputs(self) -> int:
        """Inputs waiting in the queue (not the batch being encoded)."""
        return self._queued_inputs

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._wakeup = asyncio.Event()
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="univec-batcher")

    async def submit(
        self, items: list[str | Image], task: TaskSpec, *, dense: bool, multi: bool, tokens: int
    ) -> Embeddings:
        """Queue ``items`` and wait for their vectors (full-size single vectors and/or tokens).

        Raises:
            QueueFull: The queue is at ``max_queue_inputs``.
            ShuttingDown: :meth:`drain` was called.
        """
        if not self._accepting or self._wakeup is None:
            raise ShuttingDown()
        if self._queued_inputs + len(items) > self.max_queue_inputs:
            raise QueueFull()
        job = _Job(items, task, dense, multi, tokens, asyncio.get_running_loop().create_future())
        self._queue.append(job)
        self._queued_inputs += len(items)
        self.metrics.queue_depth = self._queued_inputs
        self._wakeup.set()
        return await job.future

    async def drain(self) -> None:
        """Take no new requests; return once every queued request has been answered."""
        self._accepting = False
        if self._wakeup is not None:
            self._wakeup.set()
        if self._worker is not None:
            await self._worker
            self._worker = None
        self._executor.shutdown(wait=True)

    # ----------------------------------------------------------------- worker
    async def _run(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if not self._accepting:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            group = self._take()
            if not group:
                continue
            outcomes = await loop.run_in_executor(self._executor, self._encode, group)
            for job, outcome in zip(group, outcomes, strict=True):
                if job.future.done():  # the client went away
                    continue
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)

    def _take(self) -> list[_Job]:
        """The oldest live job and the queued jobs of its adapter that fit the budget after it."""
        group: list[_Job] = []
        tokens = inputs = 0
        kept: collections.deque[_Job] = collections.deque()
        while self._queue:
            job = self._queue.popleft()
            if job.future.done():  # cancelled while waiting
                self._queued_inputs -= len(job.items)
                continue
            fits = not group or (
                self.batching
                and job.task.adapter == group[0].task.adapter
                and tokens + job.tokens <= self.max_batch_tokens
                and inputs + len(job.items) <= self.max_batch_inputs
            )
            if fits:
                group.append(job)
                tokens += job.tokens
                inputs += len(job.items)
                self._queued_inputs -= len(job.items)
            else:
                kept.append(job)
            if not self.batching and group:
                break
        kept.extend(self._queue)
        self._queue = kept
        self.metrics.queue_depth = self._queued_inputs
        if group:
            self.metrics.observe_batch(inputs, tokens)
            now = time.monotonic()
            for job in group:
                self.metrics.queue_wait.observe(now - job.queued_at)
        return group

    def _encode(self, group: list[_Job]) -> list[Embeddings | BaseException]:
        """One backend call for ``group`` (in the worker thread); per-job results or errors."""
        try:
            return self._encode_together(group)
        except Exception as exc:
            if len(group) == 1:
                return [exc]
        # One job's input broke the shared call: run each alone so only that one fails.
        outcomes: list[Embeddings | BaseException] = []
        for job in group:
            try:
                outcomes.extend(self._encode_together([job]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    def _encode_together(self, group: list[_Job]) -> list[Embeddings | BaseException]:
        """One backend call per task of ``group`` (all of one adapter: no re-merge between)."""
        outcomes: dict[int, Embeddings] = {}
        tasks = list(dict.fromkeys(job.task for job in group))
        for task in tasks:
            jobs = [job for job in group if job.task == task]
            items = [item for job in jobs for item in job.items]
            dense = any(job.dense for job in jobs)
            multi = any(job.multi for job in jobs)
            result = self.backend.embed(items, task, dense=dense, multi=multi, dimensions=None)
            self.batches += 1
            self.inputs += len(items)
            start = 0
            for job in jobs:
                stop = start + len(job.items)
                job_dense: np.ndarray | None = None
                if job.dense and result.dense is not None:
                    job_dense = result.dense[start:stop]
                job_multi = result.multi[start:stop] if job.multi and result.multi else None
                outcomes[id(job)] = Embeddings(dense=job_dense, multi=job_multi)
                start = stop
        return [outcomes[id(job)] for job in group]
