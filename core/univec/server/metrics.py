"""The server's Prometheus metrics, written in the text exposition format (version 0.0.4)."""

from __future__ import annotations

import bisect
import collections
import threading
from collections.abc import Sequence

__all__ = ["Histogram", "Metrics"]

#: Seconds: request latency and queue wait.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Inputs per backend call.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Histogram:
    """A cumulative histogram with fixed upper bounds."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.sum = 0.0
        self.count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Record one observation."""
        with self._lock:
            self.counts[bisect.bisect_left(self.buckets, value)] += 1
            self.sum += value
            self.count += 1

    def render(self, name: str, help_text: str) -> list[str]:
        """The histogram's lines in the text format."""
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        with self._lock:
            running = 0
            for bound, count in zip(self.buckets, self.counts, strict=False):
                running += count
                lines.append(f'{name}_bucket{{le="{_number(bound)}"}} {running}')
            lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
            lines.append(f"{name}_sum {_number(self.sum)}")
            lines.append(f"{name}_count {self.count}")
        return lines


class Metrics:
    """Counters, gauges and histograms of one server.

    Attributes:
        requests: Answered ``/v1/embeddings`` requests by HTTP status.
        inputs: Inputs embedded.
        tokens: Tokens reported in ``usage``.
        queue_depth: Inputs waiting for a batch now.
        latency: Seconds from receiving a request to answering it.
        queue_wait: Seconds a request waited in the queue.
        batch_inputs: Inputs per backend call.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: collections.Counter[int] = collections.Counter()
        self.inputs = 0
        self.tokens = 0
        self.batch_tokens = 0
        self.batches = 0
        self.queue_depth = 0
        self.latency = Histogram(LATENCY_BUCKETS)
        self.queue_wait = Histogram(LATENCY_BUCKETS)
        self.batch_inputs = Histogram(BATCH_BUCKETS)

    def observe_request(self, status: int, seconds: float, inputs: int, tokens: int) -> None:
        """Record one answered request."""
        with self._lock:
            self.requests[status] += 1
            self.inputs += inputs
            self.tokens += tokens
        self.latency.observe(seconds)

    def observe_batch(self, inputs: int, tokens: int) -> None:
        """Record one backend call of ``inputs`` inputs."""
        with self._lock:
            self.batches += 1
            self.batch_tokens += tokens
        self.batch_inputs.observe(inputs)

    def render(self) -> str:
        """All metrics in the Prometheus text format."""
        with self._lock:
            lines = [
                "# HELP univec_requests_total Embedding requests answered, by HTTP status.",
                "# TYPE univec_requests_total counter",
                *(
                    f'univec_requests_total{{status="{status}"}} {count}'
                    for status, count in sorted(self.requests.items())
                ),
                "# HELP univec_inputs_total Inputs embedded.",
                "# TYPE univec_inputs_total counter",
                f"univec_inputs_total {self.inputs}",
                "# HELP univec_tokens_total Tokens reported in usage.",
                "# TYPE univec_tokens_total counter",
                f"univec_tokens_total {self.tokens}",
                "# HELP univec_batches_total Backend calls (each one or more forward passes).",
                "# TYPE univec_batches_total counter",
                f"univec_batches_total {self.batches}",
                "# HELP univec_queue_depth Inputs waiting for a batch.",
                "# TYPE univec_queue_depth gauge",
                f"univec_queue_depth {self.queue_depth}",
            ]
        lines += self.latency.render(
            "univec_request_duration_seconds", "Seconds from request to response."
        )
        lines += self.queue_wait.render(
            "univec_queue_wait_seconds", "Seconds a request waited for its batch."
        )
        lines += self.batch_inputs.render("univec_batch_inputs", "Inputs per backend call.")
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))
