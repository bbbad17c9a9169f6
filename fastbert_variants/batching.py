"""The dynamic batcher of `fastbert-variants serve`: requests' texts gathered into model calls, load shed.

The batcher gathers the texts of concurrent requests into one model call, up to `max_batch_size`
texts or whatever arrived within `max_wait_ms` of the first: on a busy server fewer, larger calls
beat many calls of one text. Overloaded, it sheds rather than hoards: past `max_queue_texts` waiting
texts a request gets 503 with Retry-After; one not answered within `deadline_ms` gets 504, and its
texts are dropped if not yet computed, as are those of clients that left; a model call running past
`hang_s` turns /health to 503 (serving.py answers the HTTP side).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingPolicy:
    max_batch_size: int = 32  # texts per model call; 1 turns dynamic batching off
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for company
    max_texts: int = 64  # per request
    max_chars: int = 5_000  # per text; tokens past the model's maximum are truncated anyway
    max_body_bytes: int = 1 << 20
    max_queue_texts: int = 256  # texts waiting for the model; past it, 503 with Retry-After
    deadline_ms: float = 1000.0  # a request not answered by then gets 504
    hang_s: float = 30.0  # a model call running longer marks /health unhealthy

    def __post_init__(self):
        if min(self.max_batch_size, self.max_texts, self.max_chars, self.max_queue_texts) < 1:
            raise UserError("--max-batch-size, --max-texts, --max-chars and --max-queue-texts must be at least 1")
        if self.max_wait_ms < 0:
            raise UserError(f"--max-wait-ms must be 0 or more, got {self.max_wait_ms}")
        if self.deadline_ms <= 0 or self.hang_s <= 0:
            raise UserError(f"--deadline-ms and --hang-s must be positive, got {self.deadline_ms} and {self.hang_s}")


class Overloaded(Exception):
    """The queue is full: the request is refused at once (503) with when to retry."""

    def __init__(self, retry_after_s: int):
        super().__init__(f"the server is overloaded; retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class DeadlineExceeded(Exception):
    """Not answered within the deadline (504); its texts are not computed if they were still waiting."""


class DynamicBatcher:
    """Queues requests' texts and runs them through `predict` in gathered batches, one model call at a time."""

    def __init__(self, predict: Callable[[list[str]], np.ndarray], policy: ServingPolicy):
        self.predict = predict
        self.policy = policy
        self.queue: asyncio.Queue = asyncio.Queue()
        self.executor = ThreadPoolExecutor(1)  # the model's own threads are the parallelism; calls go one by one
        self.calls = 0
        self.texts = 0
        self.restarts = 0
        self.shed = 0  # requests refused with 503
        self.expired = 0  # requests answered 504
        self.dropped_texts = 0  # texts never computed: their deadline passed or their client left first
        self.queued_texts = 0
        self.call_started: float | None = None  # loop time of the model call in progress
        self._seconds_per_text = 0.0  # of the last call: what Retry-After is estimated from
        self._in_hand: list = []  # (texts, future) pairs taken off the queue and not yet answered

    async def submit(self, texts: list[str], arrived: float | None = None) -> np.ndarray:
        """The texts' logits; Overloaded at once when the queue is full, DeadlineExceeded past the deadline.

        A request of more texts than `max_batch_size` is computed in calls of at most that many, each queued behind
        the requests waiting when the last one finished: one client's 64 long texts once ran as one 6.6 s call
        and every request behind it timed out. The deadline counts from `arrived` (the loop time the request's
        handler began, before its body was read and parsed: on a loaded server that wait is part of what its
        client sees), or from now."""
        if self.queued_texts + len(texts) > self.policy.max_queue_texts:
            self.shed += 1
            raise Overloaded(max(1, math.ceil(self.queued_texts * self._seconds_per_text)))
        loop = asyncio.get_running_loop()
        until = (loop.time() if arrived is None else arrived) + self.policy.deadline_ms / 1e3
        size, parts = self.policy.max_batch_size, []
        for start in range(0, len(texts), size):
            chunk = texts[start:start + size]
            future = loop.create_future()
            self.queued_texts += len(chunk)
            self.queue.put_nowait((chunk, future))
            try:  # on timeout (or a client that left) the future is cancelled, and the batcher skips it
                parts.append(await asyncio.wait_for(future, max(0.0, until - loop.time())))
            except asyncio.TimeoutError:
                self.expired += 1
                self.dropped_texts += len(texts) - start - len(chunk)  # the chunks never queued
                raise DeadlineExceeded from None
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def hung_for(self) -> float:
        """How long the model call in progress has run past `hang_s` (0 when none has)."""
        if self.call_started is None:
            return 0.0
        return max(0.0, asyncio.get_running_loop().time() - self.call_started - self.policy.hang_s)

    async def _take(self):
        item = await self.queue.get()
        self.queued_texts -= len(item[0])
        return item

    async def _gather(self, carried):
        """One batch of (texts, future) pairs: the first waiting request, then any that fit within the wait."""
        loop = asyncio.get_running_loop()
        first = carried or await self._take()
        self._in_hand.append(first)
        batch, size = [first], len(first[0])
        deadline = loop.time() + self.policy.max_wait_ms / 1e3
        while size < self.policy.max_batch_size:
            try:
                item = await asyncio.wait_for(self._take(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                break
            self._in_hand.append(item)
            if size + len(item[0]) > self.policy.max_batch_size:
                return batch, item  # it would overflow this call: it leads the next
            batch.append(item)
            size += len(item[0])
        return batch, None

    async def supervise(self) -> None:
        """run(), restarted whenever it fails: the requests it held get an error (a 500), the queued ones are served."""
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("the batcher failed; failing the %d requests it held and restarting it", len(self._in_hand))
                self.restarts += 1
                for _, future in self._in_hand:
                    if not future.done():
                        future.set_exception(RuntimeError(f"the batcher failed: {exc}"))
                self._in_hand = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        carried = None
        while True:
            self._in_hand = []
            batch, carried = await self._gather(carried)
            self.dropped_texts += sum(len(t) for t, future in batch if future.done())  # timed out, or client left
            batch = [(t, future) for t, future in batch if not future.done()]
            texts = [text for request_texts, _ in batch for text in request_texts]
            if not texts:
                continue
            self.call_started = loop.time()
            try:
                logits = await loop.run_in_executor(self.executor, self.predict, texts)
            except Exception as exc:  # a failed call fails its requests, not the server
                log.exception("model call failed")
                if len(batch) == 1:
                    _settle(batch[0][1], exception=exc)
                else:  # one request's texts must not fail the others gathered with it: each is tried on its own
                    await self._one_by_one(batch)
                continue
            finally:
                self._seconds_per_text = (loop.time() - self.call_started) / len(texts)
                self.call_started = None
            self.calls += 1
            self.texts += len(texts)
            start = 0
            for request_texts, future in batch:
                if not future.done():
                    future.set_result(logits[start : start + len(request_texts)])
                start += len(request_texts)

    async def _one_by_one(self, batch) -> None:
        loop = asyncio.get_running_loop()
        for request_texts, future in batch:
            if future.done():
                continue
            try:
                logits = await loop.run_in_executor(self.executor, self.predict, request_texts)
            except Exception as exc:
                _settle(future, exception=exc)
                continue
            self.calls += 1
            self.texts += len(request_texts)
            _settle(future, result=logits)


def _settle(future, result=None, exception: BaseException | None = None) -> None:
    """Answer a request's future unless it was answered already (its deadline passed, or its client left)."""
    if future.done():
        return
    if exception is not None:
        future.set_exception(exception)
    else:
        future.set_result(result)
