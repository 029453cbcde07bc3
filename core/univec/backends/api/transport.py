"""Sending one request: retries with backoff, and typed errors from HTTP failures."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from univec.backends.api.ratelimit import RateLimitWaitError
from univec.errors import (
    APIAuthenticationError,
    APIConnectionError,
    APIError,
    APIPermissionError,
    APIRateLimitError,
    APIRequestError,
    APIResponseError,
    APIServerError,
    APITimeoutError,
)
from univec.secrets import redact

if TYPE_CHECKING:
    import httpx

    from univec.backends.api.ratelimit import RateLimiter

__all__ = ["RETRY_STATUSES", "Reply", "RetryPolicy", "error_from_response", "post_with_retries"]

logger = logging.getLogger("univec.api")

#: Statuses worth another try: rate limited, or a transient failure on the server's side.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Headers that may carry the request id, in order of preference.
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-jina-request-id", "cf-ray")
_DETAIL_IN_MESSAGE = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one request.

    Attributes:
        max_attempts: Most attempts per request, the first included.
        total_timeout: Most seconds from a request's first attempt to giving up, waits included.
        backoff_base: Wait before the first retry (seconds); doubles on each further retry.
        backoff_max: Longest wait between two attempts, unless the server asks for longer.
    """

    max_attempts: int = 6
    total_timeout: float = 300.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number ``attempt`` (1-based): exponential, half jittered."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Reply:
    """A successful response.

    Attributes:
        body: The decoded JSON body.
        request_id: The server's request id, if it sent one.
        attempts: How many attempts it took.
        reserved_tokens: Tokens the rate limiter reserved for the last attempt.
    """

    body: Any
    request_id: str | None
    attempts: int
    reserved_tokens: int = 0


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The request id the server put in ``headers``, if any."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (it may be a number or an HTTP date); ``None`` if absent."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response, secret: str | None = None) -> APIError:
    """The typed error for a failed response, carrying the server's detail and request id."""
    status = response.status_code
    request_id = request_id_of(response.headers)
    detail: object = None
    code: object = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, Mapping):
        detail, code = body.get("detail"), body.get("code")
    elif response.text:
        detail = response.text
    if isinstance(detail, str):
        detail = redact(detail, secret)
    shown = redact(str(detail), secret) if detail is not None else "no detail given"
    if len(shown) > _DETAIL_IN_MESSAGE:
        shown = shown[: _DETAIL_IN_MESSAGE - 3] + "..."
    where = f"HTTP {status}" + (f", request id {request_id}" if request_id else "")
    kind: type[APIError]
    if status == 401:
        kind, text = (
            APIAuthenticationError,
            (
                f"The Jina API rejected the API key ({where}): {shown}. Pass a valid key as "
                "api_key=... or set JINA_API_KEY (keys: https://jina.ai/api-dashboard)."
            ),
        )
    elif status == 403:
        kind, text = (
            APIPermissionError,
            (
                f"The Jina API refused the request ({where}): {shown}. The key may lack balance "
                "or access to this model; check it at https://jina.ai/api-dashboard."
            ),
        )
    elif status == 429:
        kind, text = (
            APIRateLimitError,
            (
                f"The Jina API kept rate-limiting the requests ({where}): {shown}. Lower "
                "requests_per_minute, tokens_per_minute or max_concurrency, or retry later."
            ),
        )
    elif status >= 500:
        kind, text = APIServerError, f"The Jina API failed on its side ({where}): {shown}."
    elif status >= 400:
        kind, text = (
            APIRequestError,
            (
                f"The Jina API rejected the request as invalid ({where}): {shown}. Check the "
                "model name, task, dimensions and inputs."
            ),
        )
    else:
        kind, text = APIResponseError, f"Unexpected response from the Jina API ({where})."
    return kind(text, status_code=status, detail=detail, code=code, request_id=request_id)


async def post_with_retries(
    client: httpx.AsyncClient,
    url: str,
    content: bytes,
    headers: Mapping[str, str],
    *,
    policy: RetryPolicy,
    timeout: float,
    limiter: RateLimiter | None,
    tokens: int,
    secret: str | None,
    rng: random.Random,
    label: str = "request",
) -> Reply:
    """POST ``content`` to ``url``, retrying transient failures; return the decoded JSON.

    Retried: 429 (waiting ``Retry-After`` when given), 500/502/503/504, timeouts and dropped
    connections, within ``policy.max_attempts`` and ``policy.total_timeout``. Anything else
    raises at once.

    Raises:
        APIError: A subclass naming what failed last (status, detail, request id).
    """
    import httpx

    deadline: float | None = None
    attempt = 0
    reserved = tokens
    while True:
        attempt += 1
        if deadline is None:  # total_timeout covers the rate limiter's waits too
            deadline = time.monotonic() + policy.total_timeout
        if limiter is not None:
            queued = time.monotonic()
            try:
                reserved = await limiter.acquire(tokens, deadline=deadline)
            except RateLimitWaitError as exc:
                raise APITimeoutError(
                    f"The client-side rate limiter would hold this {label} another "
                    f"{exc.wait:.0f} s (~{exc.tokens:,} estimated tokens), past the "
                    f"{policy.total_timeout:g} s total_timeout. Raise total_timeout or the "
                    "limits (tokens_per_minute, requests_per_minute), or send smaller inputs."
                ) from None
            if time.monotonic() - queued > 0.01:
                logger.debug("%s: rate limiter held it %.2f s", label, time.monotonic() - queued)
        now = time.monotonic()
        budget = deadline - now
        # The last attempt gets only what is left of the total budget.
        attempt_timeout = max(0.001, min(timeout, budget))
        started = now
        retry_after: float | None = None
        try:
            # httpx's timeout bounds each network step; wait_for bounds the whole exchange
            # (a server dripping bytes slowly would otherwise never time out).
            response = await asyncio.wait_for(
                client.post(url, content=content, headers=dict(headers), timeout=attempt_timeout),
                attempt_timeout + 0.05,
            )
        except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
            failure: APIError = APITimeoutError(
                f"The Jina API did not answer within {attempt_timeout:.3g} s.", detail=str(exc)
            )
            failure.__cause__ = exc
        except httpx.TransportError as exc:
            failure = APIConnectionError(
                f"The connection to the Jina API failed ({type(exc).__name__}: "
                f"{redact(str(exc), secret)}).",
            )
            failure.__cause__ = exc
        else:
            request_id = request_id_of(response.headers)
            logger.debug(
                "%s: HTTP %d in %.3f s (attempt %d, request id %s)",
                label,
                response.status_code,
                time.monotonic() - started,
                attempt,
                request_id,
            )
            if limiter is not None:
                limiter.observe(response.headers)
            if 200 <= response.status_code < 300:
                try:
                    body = response.json()
                except ValueError as exc:
                    raise APIResponseError(
                        f"The Jina API answered HTTP {response.status_code} with a body that is "
                        "not JSON. Retry the call; report it if it persists.",
                        status_code=response.status_code,
                        request_id=request_id,
                    ) from exc
                return Reply(body, request_id, attempt, reserved)
            failure = error_from_response(response, secret)
            if response.status_code not in RETRY_STATUSES:
                raise failure
            retry_after = retry_after_seconds(response.headers)

        delay = policy.backoff(attempt, rng)
        if retry_after is not None:
            # At least what the server asks; the jitter on top keeps waiting clients from
            # all coming back at the same instant.
            delay = retry_after + rng.uniform(0, delay)
        if failure.status_code == 429 and limiter is not None:
            limiter.pause(delay)
        elapsed = time.monotonic() - (deadline - policy.total_timeout)
        if attempt >= policy.max_attempts or time.monotonic() + delay >= deadline:
            reason = (
                f"{attempt} attempts"
                if attempt >= policy.max_attempts
                else f"the {policy.total_timeout:g} s total_timeout"
            )
            raise type(failure)(
                f"{failure} Gave up after {attempt} attempt(s) in {elapsed:.1f} s ({reason} "
                "reached); raise max_attempts / total_timeout or retry later.",
                status_code=failure.status_code,
                detail=failure.detail,
                code=failure.code,
                request_id=failure.request_id,
            ) from failure.__cause__
        logger.info(
            "%s: %s; retrying in %.2f s (attempt %d of %d)",
            label,
            _short_reason(failure),
            delay,
            attempt + 1,
            policy.max_attempts,
        )
        await asyncio.sleep(delay)


def _short_reason(failure: APIError) -> str:
    if failure.status_code is not None:
        rid = f", request id {failure.request_id}" if failure.request_id else ""
        return f"HTTP {failure.status_code}{rid}"
    return type(failure).__name__
