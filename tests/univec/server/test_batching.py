"""Dynamic batching, the bounded queue, concurrency and graceful shutdown of the server."""

from __future__ import annotations

import asyncio
import random
import threading
import time

import httpx
import numpy as np
import pytest

from tests.support.serve import ServerThread
from univec.server import ServerSettings

MODEL = "jina-embeddings-v4"
TASKS = ["retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"]


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (a state another thread reaches), failing after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def request_in_thread(server, body: dict, replies: dict, key: object) -> threading.Thread:
    def send() -> None:
        replies[key] = httpx.post(f"{server.base_url}/embeddings", json=body, timeout=60)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def texts(number: int, count: int) -> list[str]:
    return [f"request {number} sentence {i} about topic {(number + i) % 7}" for i in range(count)]


@pytest.mark.parametrize("batching", [True, False])
def test_queued_requests_share_forward_passes_by_task(gated, tiny_encoder, batching):
    settings = ServerSettings(batching=batching)
    with ServerThread(gated, settings) as server:
        backend = gated.backend
        replies: dict[object, httpx.Response] = {}
        first = request_in_thread(
            server, {"model": MODEL, "input": texts(0, 2), "task": "text-matching"}, replies, 0
        )
        backend.entered.wait(30)  # request 0 is in the forward pass; the others queue up
        bodies = {
            n: {"model": MODEL, "input": texts(n, 1 + n % 4), "task": TASKS[n % 3]}
            for n in range(1, 11)
        }
        threads = [request_in_thread(server, body, replies, n) for n, body in bodies.items()]
        queued = sum(len(body["input"]) for body in bodies.values())
        wait_for(lambda: server.state.batcher.queued_inputs == queued, "the queue to fill")
        backend.release.set()
        for thread in [first, *threads]:
            thread.join(60)
    for n, body in bodies.items():
        got = np.array([item["embedding"] for item in replies[n].json()["data"]], np.float32)
        np.testing.assert_allclose(
            got, tiny_encoder.encode(body["input"], task=body["task"]), atol=1e-5
        )
    if batching:  # request 0, then one call per task, the two retrieval tasks side by side
        per_task = {
            task: sum(len(body["input"]) for body in bodies.values() if body["task"] == task)
            for task in TASKS[:3]
        }
        assert backend.calls[0] == 2 and len(backend.calls) == 4
        assert dict(zip(backend.tasks[1:], backend.calls[1:], strict=True)) == per_task
        adapters = [task.split(".")[0] for task in backend.tasks[1:]]
        assert adapters in (
            ["retrieval", "retrieval", "text-matching"],
            ["text-matching", "retrieval", "retrieval"],
        )  # one adapter switch, not two
    else:  # one request per forward pass
        sizes = sorted(len(body["input"]) for body in bodies.values())
        assert backend.calls[0] == 2 and sorted(backend.calls[1:]) == sizes


def test_full_queue_answers_503_with_retry_after(gated):
    settings = ServerSettings(max_inputs=2, max_queue_inputs=3, retry_after=7)
    with ServerThread(gated, settings) as server:
        replies: dict[object, httpx.Response] = {}
        first = request_in_thread(server, {"model": MODEL, "input": ["a", "b"]}, replies, 0)
        gated.backend.entered.wait(30)
        second = request_in_thread(server, {"model": MODEL, "input": ["c", "d"]}, replies, 1)
        wait_for(lambda: server.state.batcher.queued_inputs == 2, "the second request to queue")
        refused = httpx.post(
            f"{server.base_url}/embeddings", json={"model": MODEL, "input": ["e", "f"]}
        )
        assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
        assert "queue is full" in refused.json()["detail"]
        gated.backend.release.set()
        first.join(60)
        second.join(60)
        assert replies[0].status_code == replies[1].status_code == 200
        metrics = httpx.get(f"{server.root}/metrics").text
    assert 'univec_requests_total{status="503"} 1' in metrics
    assert 'univec_requests_total{status="200"} 2' in metrics


def test_graceful_shutdown_finishes_in_flight_and_refuses_new(gated, tiny_encoder):
    server = ServerThread(gated, ServerSettings()).start()
    replies: dict[object, httpx.Response] = {}
    body = {"model": MODEL, "input": ["in flight"], "task": "retrieval.query"}
    in_flight = request_in_thread(server, body, replies, 0)
    gated.backend.entered.wait(30)
    with httpx.Client() as client:  # a keep-alive connection opened before the shutdown
        assert client.get(f"{server.root}/healthz").status_code == 200
        server.state.draining = True  # what SIGTERM sets first (see draining_server)
        late = client.post(f"{server.base_url}/embeddings", json=body)
        assert late.status_code == 503 and "shutting down" in late.json()["detail"]
        assert client.get(f"{server.root}/healthz").status_code == 503
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    gated.backend.release.set()
    in_flight.join(60)
    stopper.join(60)
    assert replies[0].status_code == 200
    np.testing.assert_allclose(
        replies[0].json()["data"][0]["embedding"],
        tiny_encoder.encode(["in flight"], task="retrieval.query")[0],
        atol=1e-5,
    )
    assert not stopper.is_alive()


def test_64_concurrent_clients_all_get_their_own_vectors(tiny_encoder):
    rng = random.Random(7)
    bodies = [
        {
            "model": MODEL,
            "input": texts(n, rng.randint(1, 4)),
            "task": rng.choice(TASKS),
            **({"dimensions": 32} if n % 5 == 0 else {}),
        }
        for n in range(64)
    ]

    async def run_clients(url: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            return await asyncio.gather(*(client.post(url, json=body) for body in bodies))

    with ServerThread(tiny_encoder, ServerSettings()) as server:
        replies = asyncio.run(run_clients(f"{server.base_url}/embeddings"))
        batches = server.state.batcher.batches
    assert batches <= 64
    for body, reply in zip(bodies, replies, strict=True):
        assert reply.status_code == 200, reply.text
        got = np.array([item["embedding"] for item in reply.json()["data"]], np.float32)
        want = tiny_encoder.encode(
            body["input"], task=body["task"], dimensions=body.get("dimensions")
        )
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_bad_input_fails_only_its_own_request(gated, tiny_encoder):
    """An input that breaks the shared forward pass fails its request alone."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4000, 10)).save(buffer, format="PNG")  # aspect ratio over 200
    import base64

    wide = base64.b64encode(buffer.getvalue()).decode()
    with ServerThread(gated, ServerSettings()) as server:
        replies: dict[object, httpx.Response] = {}
        first = request_in_thread(server, {"model": MODEL, "input": ["hold"]}, replies, 0)
        gated.backend.entered.wait(30)
        bad = request_in_thread(server, {"model": MODEL, "input": [{"image": wide}]}, replies, 1)
        good = request_in_thread(server, {"model": MODEL, "input": ["fine"]}, replies, 2)
        wait_for(lambda: server.state.batcher.queued_inputs == 2, "both requests to queue")
        gated.backend.release.set()
        for thread in (first, bad, good):
            thread.join(60)
    assert replies[1].status_code == 400 and "aspect ratio" in replies[1].json()["detail"]
    assert replies[2].status_code == 200
    np.testing.assert_allclose(
        replies[2].json()["data"][0]["embedding"],
        tiny_encoder.encode(["fine"], task="text-matching")[0],
        atol=1e-5,
    )


def test_healthz_waits_for_the_model_and_metrics_are_prometheus_text(tiny_encoder):
    loaded = threading.Event()

    def slow_factory():
        loaded.wait(30)
        return tiny_encoder

    server = ServerThread.__new__(ServerThread)
    ServerThread.__init__(server, slow_factory, ServerSettings())
    server._thread.start()
    try:
        wait_for(lambda: _status(server.root + "/healthz") is not None, "the port to answer")
        assert _status(server.root + "/healthz") == 503
        reply = httpx.post(f"{server.base_url}/embeddings", json={"model": MODEL, "input": ["x"]})
        assert reply.status_code == 503 and "still loading" in reply.json()["detail"]
        loaded.set()
        server._ready.wait(30)
        assert _status(server.root + "/healthz") == 200
        httpx.post(f"{server.base_url}/embeddings", json={"model": MODEL, "input": ["a", "b"]})
        metrics = httpx.get(server.root + "/metrics")
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = metrics.text
        for name in (
            "univec_requests_total",
            "univec_inputs_total 2",
            "univec_tokens_total",
            "univec_queue_depth 0",
            "univec_batch_inputs_bucket",
            'univec_request_duration_seconds_bucket{le="+Inf"}',
        ):
            assert name in text
    finally:
        server.state.encoder = None  # owned encoders are closed at shutdown; this one is shared
        server.stop()


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None
