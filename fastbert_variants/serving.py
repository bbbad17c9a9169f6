"""An HTTP inference server for one variant (aiohttp), with a dynamic batcher, and a bounded load test.

POST /predict {"texts": ["...", ...]} -> {"predictions": [{"label": ..., "scores": {...}}, ...]}.
The batcher gathers the texts of concurrent requests into one model call, up to `max_batch_size`
texts or whatever arrived within `max_wait_ms` of the first: on a busy server fewer, larger calls
beat many calls of one text. Bad requests get a 4xx with a JSON error and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
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

    def __post_init__(self):
        if self.max_batch_size < 1 or self.max_texts < 1 or self.max_chars < 1:
            raise UserError("--max-batch-size, --max-texts and --max-chars must be at least 1")
        if self.max_wait_ms < 0:
            raise UserError(f"--max-wait-ms must be 0 or more, got {self.max_wait_ms}")


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
        self._in_hand: list = []  # (texts, future) pairs taken off the queue and not yet answered

    async def submit(self, texts: list[str]) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _gather(self, carried):
        """One batch of (texts, future) pairs: the first waiting request, then any that fit within the wait."""
        loop = asyncio.get_running_loop()
        first = carried or await self.queue.get()
        self._in_hand.append(first)
        batch, size = [first], len(first[0])
        deadline = loop.time() + self.policy.max_wait_ms / 1e3
        while size < self.policy.max_batch_size:
            try:
                item = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - loop.time()))
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
            texts = [text for request_texts, _ in batch for text in request_texts]
            try:
                logits = await loop.run_in_executor(self.executor, self.predict, texts)
            except Exception as exc:  # a failed call fails its requests, not the server
                log.exception("model call failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.calls += 1
            self.texts += len(texts)
            start = 0
            for request_texts, future in batch:
                if not future.cancelled():
                    future.set_result(logits[start : start + len(request_texts)])
                start += len(request_texts)


def make_predict(runner, tokenizer, max_length: int) -> Callable[[list[str]], np.ndarray]:
    from .inputs import padded_batches

    def predict(texts: list[str]) -> np.ndarray:
        return runner(next(padded_batches(tokenizer, texts, len(texts), max_length)))

    return predict


def _validated_texts(body: object, policy: ServingPolicy) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("texts"), list):
        raise ValueError('send a JSON object {"texts": ["a text", ...]}')
    texts = body["texts"]
    if not 1 <= len(texts) <= policy.max_texts:
        raise ValueError(f"send 1 to {policy.max_texts} texts per request, not {len(texts)}")
    if not all(isinstance(t, str) for t in texts):
        raise ValueError('every item of "texts" must be a string')
    too_long = [i for i, t in enumerate(texts) if len(t) > policy.max_chars]
    if too_long:
        raise ValueError(f"texts {too_long[:5]} are longer than {policy.max_chars} characters")
    return texts


def make_app(predict: Callable[[list[str]], np.ndarray], id2label: dict[int, str], policy: ServingPolicy,
             variant: str):
    from aiohttp import web

    @web.middleware
    async def json_errors(request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:  # 404, 405, 413 from aiohttp itself: JSON like ours
            if exc.status < 400:
                raise
            return web.json_response({"error": exc.reason}, status=exc.status)

    async def predict_route(request):
        try:
            texts = _validated_texts(await request.json(), policy)
        except json.JSONDecodeError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            logits = await request.app["batcher"].submit(texts)
        except Exception:
            return web.json_response({"error": "the model failed on this request; see the server log"}, status=500)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        return web.json_response({"variant": variant, "predictions": [
            {"label": id2label[int(row.argmax())], "scores": {id2label[i]: float(p) for i, p in enumerate(row)}}
            for row in probs]})

    async def health(request):
        batcher = request.app["batcher"]
        return web.json_response({"status": "ok", "variant": variant, "model_calls": batcher.calls,
                                  "texts": batcher.texts, "batcher_restarts": batcher.restarts,
                                  "max_batch_size": policy.max_batch_size})

    async def start_batcher(app):
        app["batcher"] = DynamicBatcher(predict, policy)
        task = asyncio.create_task(app["batcher"].supervise())
        yield
        task.cancel()

    app = web.Application(middlewares=[json_errors], client_max_size=policy.max_body_bytes)
    app.add_routes([web.post("/predict", predict_route), web.get("/health", health)])
    app.cleanup_ctx.append(start_batcher)
    return app


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    def summary(self) -> dict:
        q = statistics.quantiles(self.latencies_ms, n=100) if len(self.latencies_ms) > 1 else self.latencies_ms * 99
        return {"requests": self.requests, "errors": self.errors, "requests_per_s": self.requests / self.seconds,
                "p50_ms": q[49], "p90_ms": q[89], "p99_ms": q[98], "seconds": self.seconds}


async def bounded_load(url: str, texts: list[str], requests: int, concurrency: int) -> LoadResult:
    """`requests` POSTs of one text each (cycling through texts), at most `concurrency` in flight."""
    import aiohttp

    latencies, errors = [], 0
    next_index = iter(range(requests))

    async def client(session):
        nonlocal errors
        for i in next_index:
            started = time.perf_counter()
            async with session.post(url, json={"texts": [texts[i % len(texts)]]}) as response:
                await response.read()
                errors += response.status != 200
            latencies.append((time.perf_counter() - started) * 1e3)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return LoadResult(requests, errors, seconds, latencies)
