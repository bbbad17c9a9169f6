"""The HTTP server and its dynamic batcher, on a stand-in model (no weights needed)."""

import asyncio

import numpy as np
import pytest
from aiohttp import test_utils

from fastbert_variants.errors import UserError
from fastbert_variants.serving import ServingPolicy, bounded_load, make_app

ID2LABEL = {0: "negative", 1: "positive"}


class StandInModel:
    """Logits that favour `positive` for texts with 'good' in them; records each call's batch size."""

    def __init__(self):
        self.batch_sizes = []

    def __call__(self, texts):
        if "explode" in texts:
            raise RuntimeError("the model failed")
        self.batch_sizes.append(len(texts))
        return np.asarray([[0.0, 2.0] if "good" in t else [2.0, 0.0] for t in texts], dtype=np.float32)


def serve(policy: ServingPolicy, test):
    model = StandInModel()

    async def main():
        async with test_utils.TestClient(test_utils.TestServer(make_app(model, ID2LABEL, policy, "stand-in"))) as client:
            await test(client)

    asyncio.run(main())
    return model


def test_predictions_and_every_malformed_request_get_an_answer():
    async def test(client):
        response = await client.post("/predict", json={"texts": ["a good day", "a bad day"]})
        assert response.status == 200
        body = await response.json()
        assert [p["label"] for p in body["predictions"]] == ["positive", "negative"]
        assert abs(sum(body["predictions"][0]["scores"].values()) - 1) < 1e-6

        malformed = [
            ("post", "/predict", {"data": b"{not json"}, 400, "not JSON"),
            ("post", "/predict", {"json": {"text": "x"}}, 400, '{"texts"'),
            ("post", "/predict", {"json": {"texts": []}}, 400, "1 to 4 texts"),
            ("post", "/predict", {"json": {"texts": ["a"] * 5}}, 400, "1 to 4 texts"),
            ("post", "/predict", {"json": {"texts": ["a", 3]}}, 400, "must be a string"),
            ("post", "/predict", {"json": {"texts": ["x" * 101]}}, 400, "longer than 100"),
            ("post", "/predict", {"data": b"x" * 5000}, 413, "Too Large"),
            ("post", "/predict", {"json": {"texts": ["explode"]}}, 500, "model failed"),
            ("get", "/predict", {}, 405, "Not Allowed"),
            ("get", "/nowhere", {}, 404, "Not Found"),
        ]
        for method, path, kwargs, status, says in malformed:
            response = await getattr(client, method)(path, **kwargs)
            body = await response.json()
            assert (response.status, says in body["error"]) == (status, True), (path, kwargs, body)
        response = await client.post("/predict", json={"texts": ["still good"]})  # and it keeps serving
        assert response.status == 200

    serve(ServingPolicy(max_texts=4, max_chars=100, max_body_bytes=4096), test)


async def _concurrent_requests(client, count):
    async def one(i):
        response = await client.post("/predict", json={"texts": [f"text {i}"]})
        assert response.status == 200

    await asyncio.gather(*(one(i) for i in range(count)))


def test_dynamic_batching_gathers_concurrent_requests_into_fewer_calls():
    model = serve(ServingPolicy(max_batch_size=8, max_wait_ms=50), lambda client: _concurrent_requests(client, 16))
    assert sum(model.batch_sizes) == 16
    assert len(model.batch_sizes) < 16 and max(model.batch_sizes) <= 8


def test_batching_off_is_one_request_per_call():
    model = serve(ServingPolicy(max_batch_size=1), lambda client: _concurrent_requests(client, 16))
    assert model.batch_sizes == [1] * 16


def test_bounded_load_reports_latency_percentiles():
    async def test(client):
        result = await bounded_load(str(client.make_url("/predict")), ["good", "bad"], requests=40, concurrency=4)
        summary = result.summary()
        assert summary["requests"] == 40 and summary["errors"] == 0 and len(result.latencies_ms) == 40
        assert 0 < summary["p50_ms"] <= summary["p90_ms"] <= summary["p99_ms"]

    serve(ServingPolicy(), test)


def test_bad_policy_is_a_user_error():
    with pytest.raises(UserError, match="at least 1"):
        ServingPolicy(max_batch_size=0)


def test_a_failed_batcher_fails_its_requests_with_500_and_restarts(monkeypatch, caplog):
    """A fault in the batcher itself (not in the model) must not leave requests hanging: they get a 500, the
    failure is logged, and the next request is served by a restarted batcher."""
    from fastbert_variants.serving import DynamicBatcher

    real_gather, failures = DynamicBatcher._gather, [1]

    async def gather_that_fails_once(self, carried):
        batch, carried = await real_gather(self, carried)
        if failures:
            failures.pop()
            raise RuntimeError("batcher bug")
        return batch, carried

    monkeypatch.setattr(DynamicBatcher, "_gather", gather_that_fails_once)

    async def test(client):
        response = await asyncio.wait_for(client.post("/predict", json={"texts": ["a good day"]}), 10)
        assert response.status == 500 and "model failed" in (await response.json())["error"]
        response = await asyncio.wait_for(client.post("/predict", json={"texts": ["a good day"]}), 10)
        assert response.status == 200
        health = await (await client.get("/health")).json()
        assert health["batcher_restarts"] == 1

    serve(ServingPolicy(max_batch_size=4, max_wait_ms=1), test)
    assert "the batcher failed" in caplog.text


def test_the_gather_timeout_is_caught_as_python_3_10_raises_it(monkeypatch):
    """asyncio.wait_for raises asyncio.TimeoutError, which is the builtin TimeoutError only from Python 3.11: on 3.10
    a batcher catching the builtin died at its first gather timeout. Here wait_for raises a 3.10-like class."""
    import fastbert_variants.serving as serving

    class Py310TimeoutError(Exception):
        pass

    real_wait_for = asyncio.wait_for

    async def wait_for(awaitable, timeout):
        try:
            return await real_wait_for(awaitable, timeout)
        except TimeoutError:
            raise Py310TimeoutError from None

    monkeypatch.setattr(serving.asyncio, "TimeoutError", Py310TimeoutError)
    monkeypatch.setattr(serving.asyncio, "wait_for", wait_for)

    async def test(client):
        for _ in range(2):  # one text, batches of up to 4: each gather ends in a timeout
            response = await asyncio.wait_for(client.post("/predict", json={"texts": ["a good day"]}), 10)
            assert response.status == 200
        assert (await (await client.get("/health")).json())["batcher_restarts"] == 0

    serve(ServingPolicy(max_batch_size=4, max_wait_ms=1), test)
