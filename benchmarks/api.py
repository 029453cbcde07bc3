"""Benchmark: univec's hosted-API client against a rate-limited local API server.

The server (tests/support/jina_api_server.py, in a child process so that its CPU work does not
compete with the client's) answers after 200 ms and enforces
the free tier's limits, 500 requests/min and 1M tokens/min, with token buckets (429 +
Retry-After when exceeded). It serves cheap fake 2,048-d vectors, so the client is measured, not
a model.

Runs, each against a fresh server bucket:
1. univec, defaults (512 inputs/request, 5 in flight, client-side rate limiting): 5,000 texts.
2. The same client with ``max_concurrency=1`` (one request at a time, same batching).
3. A naive client: one text per request, one request at a time, no retries. It is measured on
   the first texts and extrapolated to 5,000 (it would take ~17 minutes in full).
4. A job larger than a minute's token allowance (1.2M tokens), with and without univec's
   client-side limiter: the limiter keeps the server from answering 429.

Usage:
    python benchmarks/api.py [--texts 5000] [--naive-sample 60] [--skip-limit-run]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support

import numpy as np  # noqa: E402

import univec  # noqa: E402

LATENCY = 0.2
REQUESTS_PER_MINUTE = 500
TOKENS_PER_MINUTE = 1_000_000
WORDS = [
    "embedding",
    "retrieval",
    "passage",
    "query",
    "vector",
    "index",
    "search",
    "model",
    "token",
    "image",
    "document",
    "page",
    "semantic",
    "dense",
    "late",
    "interaction",
    "matryoshka",
    "dimension",
    "batch",
    "latency",
    "throughput",
    "server",
]


@dataclass
class Run:
    name: str
    texts: int
    seconds: float
    requests: int
    rate_limited: int
    failures: int
    extrapolated: bool = False

    @property
    def throughput(self) -> float:
        return self.texts / self.seconds


def make_texts(count: int, words: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [f"{i}: " + " ".join(rng.choice(WORDS, size=words).tolist()) for i in range(count)]


def serve(connection: multiprocessing.connection.Connection) -> None:
    """Child process: run the API server and answer ``reset`` / ``stats`` / ``stop``."""
    from tests.support.jina_api_server import JinaAPIServer

    with JinaAPIServer(None, fake_dim=2048, fake_pool=256) as server:
        connection.send(server.base_url)
        while True:
            command = connection.recv()
            if command == "reset":
                server.reset()
                server.latency = LATENCY
                server.rate_limit(REQUESTS_PER_MINUTE, TOKENS_PER_MINUTE)
                connection.send(None)
            elif command == "stats":
                connection.send((len(server.embedding_requests), dict(server.statuses)))
            else:
                return


class RemoteServer:
    """The API server in a child process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(target=serve, args=(child,), daemon=True)
        self._process.start()
        self.base_url: str = self._connection.recv()

    def reset(self) -> None:
        """Fresh counters and full rate-limit buckets."""
        self._connection.send("reset")
        self._connection.recv()

    def stats(self) -> tuple[int, dict[int, int]]:
        """``(requests received, {status: count})`` since the last reset."""
        self._connection.send("stats")
        return self._connection.recv()

    def close(self) -> None:
        self._connection.send("stop")
        self._process.join(timeout=10)


def run_univec(server: RemoteServer, name: str, texts: list[str], **options: object) -> Run:
    server.reset()
    failures = 0
    started = time.perf_counter()
    with univec.Encoder.api("test-key", base_url=server.base_url, **options) as encoder:
        try:
            vectors = encoder.encode(texts, task="retrieval.passage")
            assert vectors.shape == (len(texts), 2048)
        except univec.UnivecError as exc:
            failures = 1
            print(f"  {name}: failed: {exc}")
    seconds = time.perf_counter() - started
    requests, statuses = server.stats()
    return Run(name, len(texts), seconds, requests, statuses.get(429, 0), failures)


def run_naive(server: RemoteServer, texts: list[str], sample: int) -> Run:
    """One text per request, one request at a time: what a simple loop over texts does."""
    import httpx

    server.reset()
    failures = 0
    started = time.perf_counter()
    with httpx.Client(headers={"Authorization": "Bearer test-key"}, timeout=60) as client:
        for text in texts[:sample]:
            body = {"model": "jina-embeddings-v4", "input": [text], "task": "retrieval.passage"}
            response = client.post(f"{server.base_url}/embeddings", json=body)
            if response.status_code != 200:
                failures += 1
                continue
            np.asarray(response.json()["data"][0]["embedding"], dtype=np.float32)
    seconds = time.perf_counter() - started
    scale = len(texts) / sample
    requests, statuses = server.stats()
    return Run(
        "naive: 1 text/request, sequential",
        len(texts),
        seconds * scale,
        round(requests * scale),
        statuses.get(429, 0),
        failures,
        extrapolated=True,
    )


def print_run(run: Run) -> None:
    note = " (extrapolated)" if run.extrapolated else ""
    print(
        f"  {run.name:<46} {run.texts:>6} texts {run.seconds:>8.1f} s{note:<15} "
        f"{run.throughput:>9.1f} texts/s  requests={run.requests:<5} 429s={run.rate_limited:<4} "
        f"failures={run.failures}"
    )


def save_plot(runs: list[Run], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot.")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    names = [run.name + (" *" if run.extrapolated else "") for run in runs]
    ax.barh(names, [run.throughput for run in runs], color="#3b7dd8")
    ax.set_xscale("log")
    ax.set_xlabel("texts per second (log scale)")
    ax.set_title(
        f"Jina API client, {runs[0].texts:,} texts, {LATENCY * 1000:.0f} ms latency, "
        f"{REQUESTS_PER_MINUTE} req/min + 1M tokens/min\n(* extrapolated from a sample)",
        fontsize=9,
    )
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"Plot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--naive-sample", type=int, default=60)
    parser.add_argument("--skip-limit-run", action="store_true")
    parser.add_argument(
        "--plot",
        default=str(ROOT / "benchmarks" / "results" / "api.png"),
        help="where to save the plot ('none' for no plot)",
    )
    args = parser.parse_args()

    texts = make_texts(args.texts, words=20)  # ~150 characters, ~40 billed tokens each
    server = RemoteServer()
    try:
        print(
            f"Server: {LATENCY * 1000:.0f} ms latency, {REQUESTS_PER_MINUTE} requests/min, "
            f"{TOKENS_PER_MINUTE:,} tokens/min (429 + Retry-After over the limits)."
        )
        print(f"Encoding {len(texts):,} texts:")
        runs = [
            run_univec(server, "univec (512/request, 5 in flight)", texts),
            run_univec(server, "univec, max_concurrency=1", texts, max_concurrency=1),
            run_naive(server, texts, args.naive_sample),
        ]
        for run in runs:
            print_run(run)
        best = runs[0]
        print(
            f"Throughput ratio: univec / one-request-at-a-time univec = "
            f"{best.throughput / runs[1].throughput:.1f}x; univec / naive sequential client = "
            f"{best.throughput / runs[2].throughput:,.0f}x (naive measured on "
            f"{args.naive_sample} texts, extrapolated to {len(texts):,})."
        )
        print(f"univec: 429 responses = {best.rate_limited}, failures = {best.failures}.")

        if not args.skip_limit_run:
            big = make_texts(1200, words=500, seed=1)  # ~4,000 characters, ~1,000 billed tokens
            print(
                f"\nA job over one minute's token allowance ({len(big):,} texts, "
                f"~{sum(-(-len(t) // 4) for t in big) / 1e6:.2f}M billed tokens), 50 texts/request:"
            )
            limited = [
                run_univec(server, "univec, client-side rate limiting", big, max_batch_size=50),
                run_univec(
                    server,
                    "univec, limiter off (retries only)",
                    big,
                    max_batch_size=50,
                    requests_per_minute=None,
                    tokens_per_minute=None,
                    max_attempts=20,
                ),
            ]
            for run in limited:
                print_run(run)
            print(
                f"With the limiter: 429 responses = {limited[0].rate_limited}, failures = "
                f"{limited[0].failures}; without: 429 responses = {limited[1].rate_limited}."
            )
    finally:
        server.close()
    if args.plot.lower() != "none":
        save_plot(runs, Path(args.plot))


if __name__ == "__main__":
    main()
