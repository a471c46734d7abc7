import math
import unittest
from typing import Any, Dict, List, Tuple

from immune_sdk.vital import INT4_MAX, MAX_TS, complete


class CompleteTest(unittest.TestCase):
    def test_fills_the_defaults_ingest_expects(self) -> None:
        vital = complete({"latency_ms": 12.5, "input_tokens": 7, "output_tokens": 3}, "bot", now_ms=1_700_000_000_000)
        self.assertEqual(vital["agent_id"], "bot")
        self.assertEqual(vital["ts"], 1_700_000_000_000)
        self.assertEqual(vital["source"], "ingest")
        self.assertEqual(vital["kind"], "task")
        self.assertEqual(vital["total_tokens"], 10)
        self.assertEqual((vital["tool_calls"], vital["retries"], vital["cost"], vital["success"]), (0, 0, 0, True))
        self.assertEqual(len(vital["id"]), 36)

    def test_keeps_what_the_report_says(self) -> None:
        vital = complete(
            {"id": "run-1", "agent_id": "other", "kind": "llm", "latency_ms": 1, "total_tokens": 99, "success": False},
            "bot",
        )
        self.assertEqual((vital["id"], vital["agent_id"], vital["kind"]), ("run-1", "other", "llm"))
        self.assertEqual((vital["total_tokens"], vital["success"]), (99, False))

    def test_none_means_left_out(self) -> None:
        vital = complete({"latency_ms": 1, "model": None}, "bot")
        self.assertNotIn("model", vital)

    def test_refuses_what_ingest_would_refuse_naming_the_field(self) -> None:
        cases: List[Tuple[Dict[str, Any], type, str]] = [
            ({"latency_ms": 1, "colour": "red"}, TypeError, "colour"),
            ({"latency_ms": -1}, ValueError, "latency_ms"),
            ({"latency_ms": math.nan}, ValueError, "latency_ms"),
            ({"latency_ms": "fast"}, TypeError, "latency_ms"),
            ({"latency_ms": 1, "input_tokens": -3}, ValueError, "input_tokens"),
            ({"latency_ms": 1, "input_tokens": 1.5}, TypeError, "input_tokens"),
            ({"latency_ms": 1, "input_tokens": True}, TypeError, "input_tokens"),
            ({"latency_ms": 1, "output_tokens": INT4_MAX + 1}, ValueError, "output_tokens"),
            ({"latency_ms": 1, "input_tokens": INT4_MAX, "output_tokens": 1}, ValueError, "total_tokens"),
            ({"latency_ms": 1, "kind": "chat"}, ValueError, "kind"),
            ({"latency_ms": 1, "success": 1}, TypeError, "success"),
            ({"latency_ms": 1, "ts": MAX_TS + 1}, ValueError, "ts"),
            ({"latency_ms": 1, "ts": 1.5}, ValueError, "ts"),
            ({"latency_ms": 1, "model": "m" * 257}, ValueError, "model"),
            ({"latency_ms": 1, "trace_id": 7}, TypeError, "trace_id"),
            ({"latency_ms": 1, "source": "gateway"}, ValueError, "source"),
            ({"latency_ms": 1, "agent_id": ""}, ValueError, "agent_id"),
            ({}, TypeError, "latency_ms"),
        ]
        for report, error, field in cases:
            with self.subTest(report=report):
                with self.assertRaisesRegex(error, field):
                    complete(report, "bot")

    def test_needs_an_agent(self) -> None:
        with self.assertRaisesRegex(TypeError, "agent_id"):
            complete({"latency_ms": 1}, None)


if __name__ == "__main__":
    unittest.main()
