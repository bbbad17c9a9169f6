"""Serving: `fastbert-variants serve` started on 127.0.0.1, loaded with concurrent requests of real texts.

Each mode (one request per model call, then dynamic batching) gets its own server process with the
same variant, threads and texts, and the same bounded load: N requests of one text each, 16 in
flight. The load generator runs in this process and shares the machine's cores with the server.
"""

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from fastbert_variants import options, progress
from fastbert_variants.serving import bounded_load

CONCURRENCY = 16


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: bytes, method: str = "POST") -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server(request, workbench, serving_case):
    """A server process for the case's variant and mode; yields its base URL; stops it after the test."""
    device, variant, mode = serving_case
    opt = request.config.option
    port = _free_port()
    argv = [sys.executable, "-m", "fastbert_variants.cli", "serve", "--variant", variant, "--device", device,
            "--port", str(port), "--threads", str(workbench.threads),
            *options.as_cli_args(opt, options.MODEL_OPTIONS + options.DATASET_OPTIONS)]
    if "--cache-dir" not in argv:
        argv += ["--cache-dir", str(workbench.cache.root)]
    argv += ["--no-batching"] * (mode == "no-batching")
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300  # a first build of the variant may happen in the server
    while True:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{process.stdout.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("the server did not answer /health within 300 s")
            time.sleep(0.5)
    yield url
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_serving(benchmark, workbench, suite_state, server, serving_case):
    device, variant, mode = serving_case
    texts = workbench.dataset.texts
    asyncio.run(bounded_load(f"{server}/predict", texts, 2 * CONCURRENCY, CONCURRENCY))  # warm-up, same for both
    with urllib.request.urlopen(f"{server}/health") as response:
        before = json.loads(response.read())

    # A malformed request before the timed load: a 4xx with a JSON error, and the load after it must all succeed.
    status, body = _post(f"{server}/predict", b'{"texts": "not a list"}')
    assert status == 400 and "error" in body, (status, body)

    loads = []
    benchmark.group = f"serving-{device}-{variant}"
    requests = suite_state.profile.serving_requests
    with progress.activity(f"serving load: {requests} requests, {CONCURRENCY} in flight, {mode}"):
        benchmark.pedantic(lambda: loads.append(asyncio.run(bounded_load(
            f"{server}/predict", texts, requests, CONCURRENCY))), rounds=1, iterations=1)
    with urllib.request.urlopen(f"{server}/health") as response:
        after = json.loads(response.read())
    load = loads[0].summary()
    assert load["errors"] == 0, f"{load['errors']} of {load['requests']} requests failed"
    if not benchmark.enabled:  # --benchmark-disable: the load ran and every request succeeded; no figures kept
        return
    calls = after["model_calls"] - before["model_calls"]
    result = {"kind": "serving", "variant": variant, "device": device, "mode": mode, "concurrency": CONCURRENCY,
              "threads": workbench.threads, **load, "model_calls": calls,
              "mean_texts_per_call": (after["texts"] - before["texts"]) / calls if calls else None,
              "model": workbench.model_spec}
    benchmark.extra_info.update(result)
    suite_state.serving_results.append(result)
