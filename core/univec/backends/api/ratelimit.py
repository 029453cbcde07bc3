"""Client-side rate limiting: token buckets for requests/min and tokens/min."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

__all__ = [
    "FREE_TIER_REQUESTS_PER_MINUTE",
    "FREE_TIER_TOKENS_PER_MINUTE",
    "RateLimitWaitError",
    "RateLimiter",
    "TokenBucket",
]

#: Limits of a free Jina API key.
FREE_TIER_REQUESTS_PER_MINUTE = 500
FREE_TIER_TOKENS_PER_MINUTE = 1_000_000
#: Share of a minute's allowance the client may spend at once. Below 1 so that the server's
#: bucket keeps some slack for network jitter between the client's clock and the server's.
DEFAULT_BURST = 0.9
#: Requests estimated at more than this share of the token bucket wait aside (see
#: :meth:`RateLimiter.acquire`) instead of queueing everyone behind them.
LARGE_REQUEST_SHARE = 0.25
#: Bounds of the estimate calibration (billed / estimated tokens).
MIN_CALIBRATION = 0.25
MAX_CALIBRATION = 4.0


class RateLimitWaitError(Exception):
    """The client-side rate limiter would hold a request past its deadline.

    Attributes:
        wait: Seconds it would have waited.
        tokens: The request's (calibrated) token estimate.
    """

    def __init__(self, wait: float, tokens: int) -> None:
        super().__init__(f"the rate limiter would hold the request {wait:.1f} s")
        self.wait = wait
        self.tokens = tokens


class TokenBucket:
    """A token bucket that hands out reservations, possibly going into debt.

    A reservation always succeeds and says how long to wait: the bucket goes negative and
    later callers queue behind it, which keeps the order of requests fair.

    Args:
        per_minute: Refill rate.
        burst: Capacity as a fraction of ``per_minute`` (at least one unit).
        clock: Monotonic clock in seconds.
    """

    def __init__(
        self,
        per_minute: float,
        *,
        burst: float = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * burst)
        self._clock = clock
        self._level = self.capacity
        self._updated = clock()

    @property
    def level(self) -> float:
        """Units available now (negative while reservations are queued)."""
        self._refill()
        return self._level

    def reserve(self, amount: float) -> float:
        """Take ``amount`` units and return the seconds to wait before using them."""
        self._refill()
        self._level -= amount
        return 0.0 if self._level >= 0 else -self._level / self.rate

    def refund(self, amount: float) -> None:
        """Give back ``amount`` units (negative: take more), e.g. after a usage correction."""
        self._refill()
        self._level = min(self.capacity, self._level + amount)

    def clamp(self, remaining: float) -> None:
        """Lower the level to what the server says remains, if that is less."""
        self._refill()
        self._level = min(self._level, remaining)

    def drain(self) -> None:
        """Empty the bucket (after the server said we were too fast)."""
        self._refill()
        self._level = min(self._level, 0.0)

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now


class RateLimiter:
    """Requests/min and tokens/min limits shared by every request of one backend.

    Used from one event loop only (the backend's engine loop), so it needs no lock.

    Args:
        requests_per_minute: Request limit, or ``None`` for none.
        tokens_per_minute: Token limit, or ``None`` for none.
        burst: Share of a minute's allowance that may be spent at once.
        clock: Monotonic clock in seconds.
    """

    def __init__(
        self,
        requests_per_minute: float | None = FREE_TIER_REQUESTS_PER_MINUTE,
        tokens_per_minute: float | None = FREE_TIER_TOKENS_PER_MINUTE,
        *,
        burst: float = DEFAULT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.requests = (
            TokenBucket(requests_per_minute, burst=burst, clock=clock)
            if requests_per_minute
            else None
        )
        self.tokens = (
            TokenBucket(tokens_per_minute, burst=burst, clock=clock) if tokens_per_minute else None
        )
        self._paused_until = 0.0
        # Totals of estimated and billed tokens, for calibrating estimates.
        self._estimated = 0
        self._billed = 0

    def reserve(self, tokens: int) -> float:
        """Reserve one request of ``tokens`` tokens; return the absolute time it may be sent."""
        delay = 0.0
        if self.requests is not None:
            delay = max(delay, self.requests.reserve(1))
        if self.tokens is not None:
            delay = max(delay, self.tokens.reserve(tokens))
        return self._clock() + delay

    def calibrated(self, estimate: int) -> int:
        """``estimate`` scaled by how the server's bills compared with earlier estimates.

        Estimates from text length are rough (the ratio of characters to tokens depends on the
        language); after the first answers the limiter reserves what the server will bill.
        """
        if self._estimated < 1:
            return estimate
        ratio = min(MAX_CALIBRATION, max(MIN_CALIBRATION, self._billed / self._estimated))
        return max(1, math.ceil(estimate * ratio))

    async def acquire(self, estimate: int, deadline: float | None = None) -> int:
        """Wait until a request estimated at ``estimate`` tokens may be sent.

        Requests of up to :data:`LARGE_REQUEST_SHARE` of the token bucket queue in order. A
        larger one (a huge image, say) waits aside until the bucket holds what it needs (at
        most a full bucket), without putting the bucket into debt: it never holds up the
        requests behind it.

        Args:
            estimate: The request's estimated tokens.
            deadline: Clock time by which the request must be sent; waiting past it raises
                at once (the reservation is given back).

        Returns:
            The tokens reserved for it (the calibrated estimate), to pass to :meth:`correct`.

        Raises:
            RateLimitWaitError: The wait would end after ``deadline``.
        """
        tokens = self.calibrated(estimate)
        if self.tokens is not None and tokens > self.tokens.capacity * LARGE_REQUEST_SHARE:
            return await self._acquire_large(tokens, deadline)
        ready_at = self.reserve(tokens)
        while True:
            # Re-read the pause on each turn: a 429 seen meanwhile pauses queued requests too.
            until = max(ready_at, self._paused_until)
            if deadline is not None and until > deadline:
                self._give_back(tokens)
                raise RateLimitWaitError(until - self._clock(), tokens)
            wait = until - self._clock()
            if wait <= 0:
                return tokens
            await asyncio.sleep(wait)

    async def _acquire_large(self, tokens: int, deadline: float | None) -> int:
        assert self.tokens is not None
        needed = min(float(tokens), self.tokens.capacity)
        while True:
            now = self._clock()
            wait = max((needed - self.tokens.level) / self.tokens.rate, self._paused_until - now)
            if wait <= 0:
                delay = self.requests.reserve(1) if self.requests is not None else 0.0
                self.tokens.reserve(needed)
                if delay > 0:
                    await asyncio.sleep(delay)
                return int(needed)
            if deadline is not None and now + wait > deadline:
                raise RateLimitWaitError(wait, tokens)
            await asyncio.sleep(min(wait, 1.0))  # smaller requests may take tokens meanwhile

    def _give_back(self, tokens: int) -> None:
        if self.requests is not None:
            self.requests.refund(1)
        if self.tokens is not None:
            self.tokens.refund(tokens)

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (the server answered 429) and empty the buckets."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        for bucket in (self.requests, self.tokens):
            if bucket is not None:
                bucket.drain()

    def correct(self, estimated: int, reserved: int, billed: int) -> None:
        """Settle a request: give back what was reserved beyond the bill (or charge more).

        Args:
            estimated: The raw estimate of the request's tokens.
            reserved: What :meth:`acquire` reserved for it.
            billed: What the server billed (its ``usage.total_tokens``); 0 if unknown.
        """
        if self.tokens is None or billed <= 0:
            return
        self._estimated += estimated
        self._billed += billed
        self.tokens.refund(reserved - billed)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Follow ``X-RateLimit-Remaining-Requests`` / ``-Tokens`` when the server sends them."""
        for bucket, name in (
            (self.requests, "x-ratelimit-remaining-requests"),
            (self.tokens, "x-ratelimit-remaining-tokens"),
        ):
            value = headers.get(name)
            if bucket is not None and value is not None:
                try:
                    bucket.clamp(float(value))
                except ValueError:
                    continue
