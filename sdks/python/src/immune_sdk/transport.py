"""JSON over HTTP to ingest, retried with exponential backoff and full jitter. Standard library only."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional

from . import __version__

USER_AGENT = f"immune-sdk-python/{__version__}"
RETRY_AFTER_CAP_S = 60.0


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    """The decoded JSON body, or None when it was not JSON."""

    @property
    def error_code(self) -> Optional[str]:
        """Ingest's ``error.code`` (``VALIDATION_FAILED``, ``TOO_MANY_VITALS``, ...), when it answered with one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            code = self.body["error"].get("code")
            return code if isinstance(code, str) else None
        return None

    def describe(self) -> str:
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            error = self.body["error"]
            return f"{error.get('code')}: {error.get('message', '')} (HTTP {self.status})"
        return f"HTTP {self.status}"


def retryable(status: int) -> bool:
    """Transient answers worth another attempt."""
    return status in (408, 429) or status >= 500


def backoff_ceiling(attempt: int, initial_s: float, max_s: float) -> float:
    """Upper bound of the delay after failed attempt number ``attempt`` (1-based): doubling, capped."""
    return min(max_s, initial_s * 2.0 ** (attempt - 1))


def retry_after(header: Optional[str]) -> Optional[float]:
    """Seconds from a ``Retry-After: <seconds>`` header, capped at a minute."""
    if header is None:
        return None
    try:
        seconds = float(header)
    except ValueError:
        return None
    return min(seconds, RETRY_AFTER_CAP_S) if seconds >= 0 else None


class Transport:
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout_s: float,
        max_attempts: int,
        initial_backoff_s: float,
        max_backoff_s: float,
        on_retry: Callable[[], None],
        stopping: threading.Event,
        rng: Optional[random.Random] = None,
    ) -> None:
        self._url = url.rstrip("/")
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self._on_retry = on_retry
        self._stopping = stopping
        self._random = rng or random.Random()

    def post(self, path: str, payload: Any) -> Response:
        """POSTs ``payload`` as JSON, retrying network errors, timeouts, 408, 429 and 5xx.

        Returns the final answer (which may be an error status); raises the last network error when no attempt
        got an answer. While the reporter is stopping (its exit deadline passed), no further attempt is made."""
        data = json.dumps(payload, separators=(",", ":")).encode()
        attempt = 1
        while True:
            wait_s: Optional[float] = None
            try:
                response = self._once(path, data)
                if not retryable(response[0].status) or attempt >= self._max_attempts:
                    return response[0]
                wait_s = response[1]
            except (urllib.error.URLError, OSError, ValueError):
                # URLError covers refused and unresolvable hosts; OSError timeouts and resets; ValueError a
                # response that is not HTTP at all.
                if attempt >= self._max_attempts or self._stopping.is_set():
                    raise
            if self._stopping.is_set():
                raise ConnectionError("immune_sdk: stopping, no further attempts")
            self._on_retry()
            ceiling = backoff_ceiling(attempt, self._initial_backoff_s, self._max_backoff_s)
            # Full jitter: many agents that lost ingest at the same moment must not come back in lockstep.
            delay = max(wait_s or 0.0, self._random.uniform(0, ceiling))
            if self._stopping.wait(delay):
                raise ConnectionError("immune_sdk: stopping, no further attempts")
            attempt += 1

    def _once(self, path: str, data: bytes) -> "tuple[Response, Optional[float]]":
        request = urllib.request.Request(
            f"{self._url}{path}",
            data=data,
            method="POST",
            headers={
                "authorization": f"Bearer {self._api_key}",
                "content-type": "application/json",
                "accept": "application/json",
                "user-agent": USER_AGENT,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as answer:
                return Response(answer.status, _json(answer.read())), None
        except urllib.error.HTTPError as error:
            with error:
                body = _json(error.read())
                return Response(error.code, body), retry_after(error.headers.get("retry-after"))


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
