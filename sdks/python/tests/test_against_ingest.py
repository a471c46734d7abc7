"""The reporter against the real ingest service (real NATS and PostgreSQL behind it).

The repository's test suite (sdks/python/test/python-sdk.test.ts) starts ingest and runs these with:
  IMMUNE_INGEST_URL   ingest's origin
  IMMUNE_API_KEY      a key ingest accepts
  IMMUNE_INGEST_MAX_BATCH  ingest's INGEST_MAX_BATCH
  IMMUNE_TEST_MANIFEST     a file where each test writes the vital ids it expects in PostgreSQL (and those it
                           expects absent), which the suite then checks row by row.
Run alone, they fail saying how to provide ingest: they never skip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Sequence

from immune_sdk import ImmuneReporter, ReporterError

HELP = (
    "these tests need a running ingest service: run them through the repository's test suite "
    "(npx vitest run --project sdk-python), or set IMMUNE_INGEST_URL, IMMUNE_API_KEY, IMMUNE_INGEST_MAX_BATCH "
    "and IMMUNE_TEST_MANIFEST yourself"
)
SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: {HELP}")
    return value


def expect_in_database(agent_id: str, present: Sequence[str], absent: Sequence[str] = ()) -> None:
    """Tells the suite which ids must end up as rows of ``vitals`` (exactly once) and which never."""
    line = {"agent_id": agent_id, "present": list(present), "absent": list(absent)}
    with open(env("IMMUNE_TEST_MANIFEST"), "a", encoding="utf-8") as manifest:
        manifest.write(json.dumps(line) + "\n")


def unique(label: str) -> str:
    return f"py-{label}-{uuid.uuid4().hex[:8]}"


class AgainstIngest(unittest.TestCase):
    url: str
    key: str
    max_batch: int

    @classmethod
    def setUpClass(cls) -> None:
        cls.url = env("IMMUNE_INGEST_URL")
        cls.key = env("IMMUNE_API_KEY")
        cls.max_batch = int(env("IMMUNE_INGEST_MAX_BATCH"))
        env("IMMUNE_TEST_MANIFEST")

    def reporter(self, agent_id: str, **options: Any) -> ImmuneReporter:
        errors: List[ReporterError] = []
        options.setdefault("on_error", errors.append)
        reporter = ImmuneReporter(options.pop("url", self.url), options.pop("api_key", self.key), agent_id=agent_id,
                                  exit_hooks=False, **options)
        reporter.errors = errors  # type: ignore[attr-defined]
        self.addCleanup(reporter.close, 10)
        return reporter

    def test_registers_then_updates_the_agent(self) -> None:
        agent = unique("register")
        reporter = self.reporter(agent)
        first = reporter.register(name="Research bot", model="gpt-4o-mini", mcp_servers=["github", "search"],
                                  tags=["research", "python"], control_url="http://127.0.0.1:9/immune",
                                  pid=os.getpid(), metadata={"framework": "langchain"})
        self.assertTrue(first["created"])
        self.assertEqual(first["agent"]["id"], agent)
        self.assertEqual(first["agent"]["mcp_servers"], ["github", "search"])
        self.assertEqual(first["agent"]["tags"], ["research", "python"])
        self.assertEqual(first["agent"]["control_url"], "http://127.0.0.1:9/immune")
        self.assertEqual(first["agent"]["pid"], os.getpid())
        again = reporter.register(model="gpt-4o")
        self.assertFalse(again["created"])
        self.assertEqual((again["agent"]["name"], again["agent"]["model"]), ("Research bot", "gpt-4o"))

    def test_a_refused_registration_names_the_field(self) -> None:
        with self.assertRaises(ReporterError) as caught:
            self.reporter(unique("register")).register(control_url="ftp://example.invalid/x")
        self.assertEqual(caught.exception.status, 400)
        self.assertIn("control_url", str(caught.exception))

    def test_batches_of_many_vitals_arrive_once_each(self) -> None:
        agent = unique("batch")
        reporter = self.reporter(agent, batch_size=40, flush_interval=0.2)
        ids = [reporter.report(kind="llm", model="gpt-4o-mini", latency_ms=100 + i, input_tokens=10, output_tokens=i)
               for i in range(250)]
        ids += reporter.report_many([{"kind": "tool", "tool_name": "search", "latency_ms": 5} for _ in range(10)])
        self.assertTrue(reporter.flush(60))
        self.assertEqual(reporter.stats.sent, 260)
        self.assertEqual((reporter.stats.dropped, reporter.errors), (0, []))  # type: ignore[attr-defined]
        expect_in_database(agent, ids)

    def test_a_batch_larger_than_ingest_takes_is_split(self) -> None:
        agent = unique("split")
        reporter = self.reporter(agent, batch_size=self.max_batch * 3 + 7, flush_interval=30)
        ids = reporter.report_many({"latency_ms": i} for i in range(self.max_batch * 3 + 7))
        self.assertTrue(reporter.flush(60))
        self.assertEqual((reporter.stats.sent, reporter.stats.dropped), (len(ids), 0))
        expect_in_database(agent, ids)

    def test_a_batch_ingest_refuses_is_dropped_whole_and_reported(self) -> None:
        agent = unique("refused")
        reporter = self.reporter(agent, batch_size=3, flush_interval=30)
        # Valid for the SDK, refused by ingest: a day ahead of the server's clock. All or nothing: its two
        # neighbours in the batch are refused with it.
        ids = reporter.report_many([{"latency_ms": 1}, {"latency_ms": 2, "ts": int(time.time() * 1000) + 86_400_000},
                                    {"latency_ms": 3}])
        self.assertTrue(reporter.flush(30))
        errors: List[ReporterError] = reporter.errors  # type: ignore[attr-defined]
        self.assertEqual(len(errors), 1)
        self.assertEqual((errors[0].status, errors[0].vital_ids), (400, tuple(ids)))
        self.assertIn("body.vitals.1.ts", str(errors[0]))
        self.assertEqual((reporter.stats.retries, reporter.stats.dropped), (0, 3))
        expect_in_database(agent, [], absent=ids)

    def test_a_wrong_key_is_not_retried(self) -> None:
        agent = unique("badkey")
        reporter = self.reporter(agent, api_key="imk_not-a-key-at-all", flush_interval=0.05)
        ids = [reporter.report(latency_ms=1)]
        self.assertTrue(reporter.flush(30))
        self.assertEqual((reporter.stats.retries, reporter.stats.dropped), (0, 1))
        self.assertEqual(reporter.errors[0].status, 401)  # type: ignore[attr-defined]
        expect_in_database(agent, [], absent=ids)

    def test_retries_with_backoff_through_an_overloaded_proxy(self) -> None:
        agent = unique("retry")
        with FlakyProxy(self.url, failures=3) as proxy:
            reporter = self.reporter(agent, url=proxy.url, batch_size=20, flush_interval=0.05, initial_backoff=0.05,
                                     max_backoff=0.2)
            ids = reporter.report_many({"latency_ms": i} for i in range(20))
            self.assertTrue(reporter.flush(60))
        self.assertEqual((reporter.stats.sent, reporter.stats.retries, reporter.stats.dropped), (20, 3, 0))
        self.assertEqual(proxy.answered, [503, 503, 503, 202])
        expect_in_database(agent, ids)

    def test_the_queue_is_bounded_while_ingest_is_unreachable(self) -> None:
        agent = unique("bounded")
        reporter = self.reporter(agent, url="http://127.0.0.1:9", max_queue=5, batch_size=100, flush_interval=60,
                                 max_attempts=1)
        ids = [reporter.report(latency_ms=i) for i in range(8)]
        errors: List[ReporterError] = reporter.errors  # type: ignore[attr-defined]
        self.assertEqual([e.vital_ids for e in errors], [(ids[0],), (ids[1],), (ids[2],)])
        self.assertEqual(reporter.stats.queued, 5)

    def test_flushes_at_interpreter_exit(self) -> None:
        agent = unique("atexit")
        ids = self.child(agent, "sys.exit(0)")
        self.assertEqual(len(ids), 25)
        expect_in_database(agent, ids)

    def test_flushes_on_sigterm(self) -> None:
        agent = unique("sigterm")
        ids = self.child(agent, "time.sleep(60)", terminate=True)
        self.assertEqual(len(ids), 25)
        expect_in_database(agent, ids)

    def child(self, agent: str, then: str, terminate: bool = False) -> List[str]:
        """A separate Python process reports 25 vitals with a long flush interval, prints their ids, then
        exits (or waits to be terminated): only the exit hooks can deliver them."""
        script = (
            "import sys, time\n"
            "from immune_sdk import ImmuneReporter\n"
            f"r = ImmuneReporter({self.url!r}, {self.key!r}, agent_id={agent!r}, flush_interval=600)\n"
            "print(' '.join(r.report(latency_ms=i) for i in range(25)), flush=True)\n"
            f"{then}\n"
        )
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONPATH": SRC})
        assert child.stdout is not None
        ids = child.stdout.readline().split()
        if terminate:
            child.terminate()
        self.assertEqual(child.wait(60), -15 if terminate else 0)
        child.stdout.close()
        return ids


class FlakyProxy:
    """A reverse proxy in front of the real ingest that answers its first ``failures`` requests with
    ``503 Retry-After: 0`` (an overloaded load balancer), then forwards."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.answered: List[int] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if len(proxy.answered) < failures:
                    self.answer(503, b'{"error":{"code":"OVERLOADED","message":"try again"}}', {"retry-after": "0"})
                    return
                request = urllib.request.Request(upstream + self.path, data=body, method="POST",
                                                 headers={k: v for k, v in self.headers.items()
                                                          if k.lower() in ("authorization", "content-type")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self.answer(response.status, response.read(), {})
                except urllib.error.HTTPError as error:
                    self.answer(error.code, error.read(), {})

            def answer(self, status: int, body: bytes, headers: Dict[str, str]) -> None:
                proxy.answered.append(status)
                self.send_response(status)
                for name, value in {**headers, "content-type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "FlakyProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    unittest.main()
