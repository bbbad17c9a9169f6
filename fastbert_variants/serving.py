"""An HTTP inference server for one variant (aiohttp), in front of the dynamic batcher (batching.py).

POST /predict {"texts": ["...", ...]} -> {"predictions": [{"label": ..., "scores": {...}}, ...]}.
Bad requests get a 4xx with a JSON error and the server keeps serving; an overloaded one 503 with
Retry-After, one past its deadline 504, a client that leaves cancels its request (aiohttp's handler
cancellation), and a model call past `hang_s` turns /health to 503. Every request gets an answer, and
non-finite logits a JSON 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import numpy as np

from .batching import DeadlineExceeded, DynamicBatcher, Overloaded, ServingPolicy

__all__ = ["ServingPolicy", "make_app", "make_predict", "warm_up_shapes"]  # ServingPolicy: make_app's, from batching.py

log = logging.getLogger(__name__)


def make_predict(runner, tokenizer, max_length: int) -> Callable[[list[str]], np.ndarray]:
    from .inputs import padded_batches

    def predict(texts: list[str]) -> np.ndarray:
        return runner(next(padded_batches(tokenizer, texts, len(texts), max_length)))

    return predict


def warm_up_shapes(predict, tokenizer, texts: list[str], max_batch_size: int, max_length: int) -> tuple[int, float]:
    """Call the model once at every (batch size, padded length) the batcher can form from `texts`: one text of each
    token length, repeated 1 to max_batch_size times. (shapes called, seconds.)

    A runtime prepares each new input shape on its first call. A fresh openvino-int8-nncf-default server at 200
    requests/s went over a 100 ms p99 (p50 46 ms) and settled at p50 10 ms only after some 2,000 requests; with its
    488 shapes called first (14 s), p99 19-24 ms from the first load (Intel Xeon, AMX, 6 December 2026;
    docs/measurements/2026-12-06-intel-xeon-amx-server.md). A capacity search on a cold server measured the warm-up."""
    import time

    by_length: dict[int, str] = {}
    for text, ids in zip(texts, tokenizer(texts, truncation=True, max_length=max_length)["input_ids"], strict=True):
        by_length.setdefault(len(ids), text)
    started = time.perf_counter()
    for text in by_length.values():
        for size in range(1, max_batch_size + 1):
            predict([text] * size)
    return len(by_length) * max_batch_size, time.perf_counter() - started


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
    not_unicode = [i for i, t in enumerate(texts) if not _encodes(t)]
    if not_unicode:  # JSON's \udc80 escapes decode to lone surrogates, which no tokenizer takes
        raise ValueError(f"texts {not_unicode[:5]} are not valid Unicode (a lone surrogate such as \\udc80); "
                         "send UTF-8 text")
    return texts


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
        arrived = asyncio.get_running_loop().time()
        try:  # JSON is UTF-8 (RFC 8259): the bytes are parsed as such, whatever charset the request claims
            # A body that has not arrived by the deadline is not waited for (half-sent requests were held 95 s).
            raw = await asyncio.wait_for(request.read(), policy.deadline_ms / 1e3)
        except asyncio.TimeoutError:
            return web.json_response({"error": f"the body did not arrive within the server's deadline of "
                                               f"{policy.deadline_ms:g} ms"}, status=408)
        try:
            body = json.loads(raw)
        except ValueError:  # not JSON, not UTF-8 (UnicodeDecodeError), an integer of thousands of digits
            return web.json_response({"error": "the body is not JSON"}, status=400)
        except RecursionError:  # nested thousands of levels deep: a request, not a server fault
            return web.json_response({"error": "the body is nested too deeply; send {\"texts\": [\"...\"]}"},
                                     status=400)
        try:
            texts = _validated_texts(body, policy)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        try:
            logits = await request.app["batcher"].submit(texts, arrived)
        except Overloaded as exc:
            return web.json_response({"error": str(exc)}, status=503, headers={"Retry-After": str(exc.retry_after_s)})
        except DeadlineExceeded:
            return web.json_response({"error": f"not answered within the server's deadline of {policy.deadline_ms:g} ms"},
                                     status=504)
        except Exception:
            return web.json_response({"error": "the model failed on this request; see the server log"}, status=500)
        if not np.isfinite(logits).all():
            log.error("the model returned non-finite logits for %d texts", len(texts))
            return web.json_response({"error": "the model returned non-finite logits (NaN or inf) for this request"},
                                     status=500)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = shifted / shifted.sum(axis=1, keepdims=True)
        return web.json_response({"variant": variant, "predictions": [
            {"label": id2label[int(row.argmax())], "scores": {id2label[i]: float(p) for i, p in enumerate(row)}}
            for row in probs]})

    async def health(request):
        batcher = request.app["batcher"]
        hung = batcher.hung_for()
        return web.json_response({
            "status": "unhealthy" if hung else "ok", "variant": variant, "model_calls": batcher.calls,
            "texts": batcher.texts, "batcher_restarts": batcher.restarts, "max_batch_size": policy.max_batch_size,
            "queued_texts": batcher.queued_texts, "shed": batcher.shed, "expired": batcher.expired,
            "dropped_texts": batcher.dropped_texts,
            **({"reason": f"a model call has run {hung + policy.hang_s:.0f} s, past --hang-s {policy.hang_s:g}"}
               if hung else {})}, status=503 if hung else 200)

    async def start_batcher(app):
        app["batcher"] = DynamicBatcher(predict, policy)
        task = asyncio.create_task(app["batcher"].supervise())
        yield
        task.cancel()

    app = web.Application(middlewares=[json_errors], client_max_size=policy.max_body_bytes)
    app.add_routes([web.post("/predict", predict_route), web.get("/health", health)])
    app.cleanup_ctx.append(start_batcher)
    return app
