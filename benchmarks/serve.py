"""Serving benchmark: ``univec serve`` with dynamic batching against the same server without it.

Starts ``python -m univec serve`` twice on 127.0.0.1 (a subprocess each, the same checkpoint
and settings), once with dynamic batching and once with ``--no-batching`` (one request per
forward pass), and drives each with the same load: ``--clients`` concurrent clients, each
sending ``--requests`` requests one after another, each request carrying 1-4 short texts (a
seeded random mix of tasks). It prints requests/s, texts/s and p50/p99 latency for both, the
ratios, and PASS/FAIL for the target: at least 4x the throughput at an equal or better p99.
A bar plot goes to ``benchmarks/results/serve.png``.

    python benchmarks/serve.py                          # tiny checkpoint, ~1-2 min on 2 cores
    python benchmarks/serve.py --hidden 256 --layers 6  # a bench-size random checkpoint
    python benchmarks/serve.py --checkpoint /path/to/jina-embeddings-v4 --device cuda

Both servers answer every request with the same vectors (checked on a sample).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny-jev4"
RESULTS = Path(__file__).parent / "results"
TASKS = ["retrieval.query", "retrieval.passage", "text-matching"]
WORDS = [
    "retrieval",
    "embedding",
    "vector",
    "model",
    "query",
    "passage",
    "document",
    "image",
    "token",
    "layer",
    "attention",
    "late",
    "interaction",
    "multi",
    "matryoshka",
    "projection",
    "adapter",
    "language",
    "vision",
    "index",
    "search",
]
TARGET_THROUGHPUT = 4.0


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]
    texts: int
    batches: int

    @property
    def requests_per_s(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def texts_per_s(self) -> float:
        return self.texts / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q))


def make_requests(clients: int, per_client: int, seed: int) -> list[list[dict]]:
    rng = random.Random(seed)
    plans = []
    for client in range(clients):
        plan = []
        for number in range(per_client):
            count = rng.randint(1, 4)
            texts = [
                f"{client}-{number}-{i} " + " ".join(rng.choices(WORDS, k=rng.randint(4, 16)))
                for i in range(count)
            ]
            plan.append({"model": "jina-embeddings-v4", "input": texts, "task": rng.choice(TASKS)})
        plans.append(plan)
    return plans


class Server:
    """A ``python -m univec serve`` subprocess on a free port of 127.0.0.1."""

    def __init__(self, checkpoint: Path, device: str, batching: bool, extra: list[str]) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "core"),
                   str(ROOT / "integrations"), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
        command = [
            sys.executable, "-m", "univec", "serve", "--port", "0", "--model", str(checkpoint),
            "--device", device, "--dtype", "float32",
            "--batching" if batching else "--no-batching", *extra,
        ]  # fmt: skip
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("univec serve: listening on "):
            self.fail("start")
        self.root = line.split()[4]
        if not self.process.stdout.readline().startswith("univec serve: ready"):
            self.fail("load the model")

    def fail(self, what: str) -> None:
        self.process.kill()
        self.process.wait()
        self.log.seek(0)
        raise RuntimeError(f"the server did not {what}:\n{self.log.read()[-3000:]}")

    def batches(self) -> int:
        for line in httpx.get(f"{self.root}/metrics").text.splitlines():
            if line.startswith("univec_batches_total "):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Connection:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams.

    The load generator must cost far less than the server it measures: on a small machine an
    ``httpx`` request costs the client about as much CPU as the tiny model's forward pass.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        await self.writer.drain()
        status_line, *header_lines = (
            (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        )
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(root: str, plans: list[list[dict]]) -> tuple[float, list[float], dict[int, list]]:
    """Run every client's plan concurrently; ``(seconds, latencies, first answer per client)``."""
    import json
    import urllib.parse

    address = urllib.parse.urlsplit(root)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    latencies: list[float] = []
    samples: dict[int, list] = {}
    bodies = [[json.dumps(body).encode() for body in plan] for plan in plans]
    connections = [Connection(host, port) for _ in plans]

    async def one_client(index: int, plan: list[bytes]) -> None:
        for position, body in enumerate(plan):
            started = time.perf_counter()
            status, reply = await connections[index].post("/v1/embeddings", body)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {reply[:300]!r}")
            if position == 0:
                samples[index] = [item["embedding"] for item in json.loads(reply)["data"]]

    try:
        await asyncio.gather(*(one_client(i, plan[:1]) for i, plan in enumerate(bodies)))
        latencies.clear()  # that was the warm-up (connections, first batches)
        samples.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one_client(i, plan) for i, plan in enumerate(bodies)))
        seconds = time.perf_counter() - started
    finally:
        for connection in connections:
            connection.close()
    return seconds, latencies, samples


def measure(name: str, checkpoint: Path, args: argparse.Namespace, batching: bool,
            plans: list[list[dict]]) -> tuple[Run, dict[int, list]]:  # fmt: skip
    extra = list(args.server_option or [])
    if args.torch_threads:
        extra += ["--torch-threads", str(args.torch_threads)]
    server = Server(checkpoint, args.device, batching, extra)
    try:
        before = server.batches()
        seconds, latencies, samples = asyncio.run(drive(server.root, plans))
        batches = server.batches() - before
    finally:
        server.stop()
    texts = sum(len(body["input"]) for plan in plans for body in plan)
    run = Run(name, seconds, latencies, texts, batches)
    print(
        f"{name:<12} {run.requests_per_s:8.1f} req/s {run.texts_per_s:8.1f} texts/s  "
        f"p50 {run.percentile(50) * 1000:7.1f} ms  p99 {run.percentile(99) * 1000:7.1f} ms  "
        f"{batches} backend calls for {len(latencies)} requests"
    )
    return run, samples


def save_plot(runs: list[Run], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot.")
        return
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    names = [run.name for run in runs]
    left.bar(names, [run.texts_per_s for run in runs], color=["#4c72b0", "#999999"])
    left.set_ylabel("texts / s")
    left.set_title("throughput")
    width = 0.38
    positions = np.arange(len(runs))
    right.bar(positions - width / 2, [run.percentile(50) * 1000 for run in runs], width,
              label="p50")  # fmt: skip
    right.bar(positions + width / 2, [run.percentile(99) * 1000 for run in runs], width,
              label="p99")  # fmt: skip
    right.set_xticks(positions, names)
    right.set_ylabel("latency (ms)")
    right.set_title("latency")
    right.legend()
    figure.suptitle("univec serve: 64 concurrent clients, 1-4 short texts per request")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="serve this checkpoint (default: tiny or built)")
    parser.add_argument("--hidden", type=int, help="build a random checkpoint of this width")
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--requests", type=int, default=8, help="requests per client")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="PyTorch threads of both servers (0: PyTorch's default). On a small shared CPU, "
        "OpenMP threads spinning beside the web server's cost more than they bring.",
    )
    parser.add_argument(
        "--server-option", action="append", help="extra `univec serve` option (repeatable)"
    )
    parser.add_argument("--plot", default=str(RESULTS / "serve.png"), help="'none': no plot")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(args.checkpoint) if args.checkpoint else TINY
        if args.hidden and not args.checkpoint:
            sys.path.insert(0, str(Path(__file__).parent))
            from encode import build_checkpoint

            checkpoint = build_checkpoint(
                Path(tmp) / "ckpt", args.hidden, args.layers, 8192, 16, args.seed
            )
        plans = make_requests(args.clients, args.requests, args.seed)
        print(
            f"checkpoint {checkpoint.name}; {args.clients} clients x {args.requests} requests, "
            f"{sum(len(b['input']) for p in plans for b in p)} texts; torch threads per server: "
            f"{args.torch_threads or 'default'}"
        )
        batched, batched_samples = measure("batching", checkpoint, args, True, plans)
        single, single_samples = measure("no batching", checkpoint, args, False, plans)

    for index, got in batched_samples.items():
        np.testing.assert_allclose(np.array(got), np.array(single_samples[index]), atol=1e-5)
    print("same vectors from both servers (1e-5)")
    throughput = batched.texts_per_s / single.texts_per_s
    p99 = batched.percentile(99) / single.percentile(99)
    p50 = statistics.median(batched.latencies) / statistics.median(single.latencies)
    print(f"ratio batching / no batching: throughput x{throughput:.2f}, p50 x{p50:.2f}, "
          f"p99 x{p99:.2f}")  # fmt: skip
    passed = throughput >= TARGET_THROUGHPUT and p99 <= 1.0
    print(
        f"target: throughput >= {TARGET_THROUGHPUT:g}x at an equal or better p99: "
        f"{'PASS' if passed else 'FAIL'}"
    )
    if args.plot.lower() != "none":
        save_plot([batched, single], Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
