"""``ImmuneReporter``: batches an agent's vitals and sends them to Immune's ingest service from a background
thread, so reporting never blocks the agent."""

from __future__ import annotations

import atexit
import collections
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, List, Mapping, Optional, Sequence

from .errors import ReporterError
from .transport import Transport
from .vital import complete

EXIT_FLUSH_TIMEOUT_S = 5.0
#: Calls started with ``start_call`` and never ended are forgotten beyond this many (oldest first).
MAX_OPEN_CALLS = 10_000


@dataclass(frozen=True)
class ReporterStats:
    queued: int
    sent: int
    dropped: int
    retries: int


class ImmuneReporter:
    """Reports vitals (LLM calls, tool calls, tasks) to Immune's ingest service and registers the agent.

    - ``report()`` returns at once with the vital's id; a background thread sends batches of ``batch_size``
      vitals, or whatever waited ``flush_interval`` seconds, one request at a time, in order.
    - Network errors, timeouts, 408, 429 and 5xx are retried up to ``max_attempts`` times with exponential
      backoff and full jitter (``initial_backoff`` doubling up to ``max_backoff`` seconds), honouring
      ``Retry-After``. A batch ingest finds too large is split in halves; other refusals are not retried.
    - At most ``max_queue`` vitals wait while ingest is unreachable; beyond that the oldest are dropped. Every
      drop is passed to ``on_error`` as a ``ReporterError`` (or issued as a warning when there is none).
    - At interpreter exit (and on SIGTERM, unless the application handles it) the queue is flushed for up to
      five seconds. ``close()`` does the same explicitly; the reporter is also a context manager.

    >>> immune = ImmuneReporter("http://localhost:4100", api_key, agent_id="research-bot")
    >>> immune.report(kind="llm", model="gpt-4o", latency_ms=812, input_tokens=1200, output_tokens=300)
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        agent_id: Optional[str] = None,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        max_attempts: int = 8,
        initial_backoff: float = 0.25,
        max_backoff: float = 10.0,
        timeout: float = 10.0,
        exit_hooks: bool = True,
        on_error: Optional[Callable[[ReporterError], None]] = None,
    ) -> None:
        for name, value in (("batch_size", batch_size), ("max_queue", max_queue), ("max_attempts", max_attempts)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImmuneReporter: {name} must be a positive integer, got {value!r}")
        for name, seconds in (("flush_interval", flush_interval), ("timeout", timeout)):
            if not seconds > 0:
                raise ValueError(f"ImmuneReporter: {name} must be positive seconds, got {seconds!r}")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"ImmuneReporter: url must be http(s)://..., got {url!r}")
        self._agent_id = agent_id
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._on_error = on_error

        self._lock = threading.Condition()
        self._queue: Deque[Dict[str, Any]] = collections.deque()
        self._first_queued_at: Optional[float] = None
        self._in_flight = 0
        self._flush_requested = False
        self._closed = False
        self._sent = 0
        self._dropped = 0
        self._retries = 0
        self._open_calls: "collections.OrderedDict[Any, float]" = collections.OrderedDict()
        self._stopping = threading.Event()
        self._transport = Transport(
            url,
            api_key,
            timeout_s=timeout,
            max_attempts=max_attempts,
            initial_backoff_s=initial_backoff,
            max_backoff_s=max_backoff,
            on_retry=self._count_retry,
            stopping=self._stopping,
        )
        self._thread: Optional[threading.Thread] = None
        self._previous_sigterm: Any = None
        if exit_hooks:
            self._install_exit_hooks()

    # -- reporting -------------------------------------------------------------------------------------------

    @property
    def stats(self) -> ReporterStats:
        with self._lock:
            return ReporterStats(len(self._queue) + self._in_flight, self._sent, self._dropped, self._retries)

    def report(self, vital: Optional[Mapping[str, Any]] = None, **fields: Any) -> str:
        """Queues one vital (a mapping, keyword fields, or both) and returns its id.

        Only ``latency_ms`` is required. The reporter fills ``id`` (a UUID, so a retried request is never
        counted twice), ``ts`` (now, epoch ms), ``agent_id`` (the reporter's), ``kind`` (``task``), zero counts,
        ``total_tokens`` (input + output) and ``success`` (True). Raises ``TypeError``/``ValueError`` at once
        for an invalid vital."""
        return self.report_many([{**(vital or {}), **fields}])[0]

    def report_many(self, vitals: Iterable[Mapping[str, Any]]) -> List[str]:
        """Queues several vitals (all checked before any is queued) and returns their ids."""
        completed = [complete(item, self._agent_id) for item in vitals]
        with self._lock:
            if self._closed:
                raise RuntimeError("ImmuneReporter: closed")
            overflow = len(self._queue) + len(completed) - self._max_queue
            dropped = [self._queue.popleft() for _ in range(min(max(overflow, 0), len(self._queue)))]
            if len(completed) > self._max_queue:
                dropped.extend(completed[: len(completed) - self._max_queue])
                completed = completed[len(completed) - self._max_queue :]
            if not self._queue:
                self._first_queued_at = time.monotonic()
            self._queue.extend(completed)
            self._ensure_thread()
            self._lock.notify_all()
        if dropped:
            self._drop(dropped, "the queue is full (ingest unreachable for too long?); dropped the oldest vitals")
        return [vital["id"] for vital in completed]

    def start_call(self, key: Any) -> None:
        """Starts timing a call (``key`` is anything hashable, e.g. LangChain's ``run_id``)."""
        with self._lock:
            self._open_calls[key] = time.monotonic()
            while len(self._open_calls) > MAX_OPEN_CALLS:
                self._open_calls.popitem(last=False)

    def end_call(self, key: Any, **fields: Any) -> str:
        """Reports the call started with ``start_call(key)``, its ``latency_ms`` measured; returns the id."""
        with self._lock:
            started = self._open_calls.pop(key, None)
        if started is None:
            raise KeyError(f"ImmuneReporter.end_call: no call was started with key {key!r}")
        return self.report(fields, latency_ms=(time.monotonic() - started) * 1000)

    def register(
        self,
        *,
        agent_id: Optional[str] = None,
        name: Optional[str] = None,
        model: Optional[str] = None,
        mcp_servers: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        control_url: Optional[str] = None,
        pid: Optional[int] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Dict[str, Any]:
        """Registers or updates the agent; fields left out keep their stored value. Retried like vitals.

        ``control_url`` is where the healer's agent-webhook executor posts reset / rollback / restart; ``pid``
        is for the local signal executor (``pid=os.getpid()``). Returns ``{"agent": {...}, "created": bool}``;
        raises ``ReporterError`` when ingest refuses it."""
        agent = agent_id if agent_id is not None else self._agent_id
        if agent is None:
            raise TypeError("ImmuneReporter.register: agent_id is required")
        body: Dict[str, Any] = {"agent_id": agent}
        optional: Dict[str, Any] = {
            "name": name,
            "model": model,
            "mcp_servers": None if mcp_servers is None else list(mcp_servers),
            "tags": None if tags is None else list(tags),
            "control_url": control_url,
            "pid": pid,
            "metadata": None if metadata is None else dict(metadata),
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        response = self._transport.post("/api/v1/agents/register", body)
        if response.status in (200, 201) and isinstance(response.body, dict):
            return response.body
        raise ReporterError(f"register failed: {response.describe()}", [], response.status)

    # -- flushing and closing --------------------------------------------------------------------------------

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends everything queued now; returns True once it was delivered or given up on, False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            if self._queue:
                self._flush_requested = True
                self._ensure_thread()
                self._lock.notify_all()
            while self._queue or self._in_flight:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def close(self, timeout: Optional[float] = None) -> bool:
        """Flushes (for at most ``timeout`` seconds), stops the sender and refuses further reports.

        Returns False when the deadline passed first; what was still queued then is dropped and reported."""
        with self._lock:
            self._closed = True
        self._remove_exit_hooks()
        flushed = self.flush(timeout)
        if not flushed:
            self._stopping.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(None if flushed else EXIT_FLUSH_TIMEOUT_S)
        with self._lock:
            left = list(self._queue)
            self._queue.clear()
        if left:
            self._drop(left, "the reporter closed before they could be sent")
        return flushed

    def __enter__(self) -> "ImmuneReporter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the sender thread -----------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="immune-reporter", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                batch = self._next_batch()
                if batch is None:
                    return
                self._in_flight = len(batch)
            try:
                self._deliver(batch)
            finally:
                with self._lock:
                    self._in_flight = 0
                    self._lock.notify_all()

    def _next_batch(self) -> Optional[List[Dict[str, Any]]]:
        """Waits (holding the lock's condition) until a batch is due; None when closed and empty."""
        while True:
            if self._stopping.is_set():
                return None
            if self._queue:
                waited = time.monotonic() - (self._first_queued_at or 0.0)
                due = (
                    len(self._queue) >= self._batch_size
                    or waited >= self._flush_interval
                    or self._flush_requested
                    or self._closed
                )
                if due:
                    batch = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
                    if self._queue:
                        self._first_queued_at = time.monotonic()
                    else:
                        self._flush_requested = False
                    return batch
                self._lock.wait(self._flush_interval - waited)
            elif self._closed:
                return None
            else:
                self._lock.wait()

    def _deliver(self, batch: List[Dict[str, Any]]) -> None:
        try:
            response = self._transport.post("/api/v1/ingest", {"vitals": batch})
        except Exception as error:  # noqa: BLE001 - the sender thread must survive anything
            self._drop(batch, f"ingest unreachable: {error}", cause=error)
            return
        if response.status == 202:
            with self._lock:
                self._sent += len(batch)
            return
        too_large = response.status == 413 or (response.status == 400 and response.error_code == "TOO_MANY_VITALS")
        if too_large and len(batch) > 1:
            half = (len(batch) + 1) // 2
            self._deliver(batch[:half])
            self._deliver(batch[half:])
            return
        self._drop(batch, f"ingest refused the batch: {response.describe()}", response.status)

    def _count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def _drop(
        self,
        vitals: Sequence[Mapping[str, Any]],
        message: str,
        status: Optional[int] = None,
        cause: Optional[BaseException] = None,
    ) -> None:
        with self._lock:
            self._dropped += len(vitals)
        error = ReporterError(f"{len(vitals)} vital(s) dropped: {message}", [v["id"] for v in vitals], status)
        error.__cause__ = cause
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:  # noqa: BLE001 - a failing callback must not stop the sender
                pass
        else:
            warnings.warn(error.args[0], RuntimeWarning, stacklevel=2)

    # -- exit hooks ------------------------------------------------------------------------------------------

    def _install_exit_hooks(self) -> None:
        atexit.register(self._at_exit)
        # Python's default SIGTERM ends the process without running atexit. Only when nobody else handles it
        # (and only from the main thread, where signal handlers live) do we flush first, then let it end.
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL,
            None,
        ):
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)

    def _remove_exit_hooks(self) -> None:
        atexit.unregister(self._at_exit)
        if self._previous_sigterm is not None and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGTERM) == self._on_sigterm:
                signal.signal(signal.SIGTERM, self._previous_sigterm)
            self._previous_sigterm = None

    def _at_exit(self) -> None:
        self.close(EXIT_FLUSH_TIMEOUT_S)

    def _on_sigterm(self, signum: int, _frame: object) -> None:
        self.close(EXIT_FLUSH_TIMEOUT_S)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
