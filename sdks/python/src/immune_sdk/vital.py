"""One vital on the wire: the fields ingest accepts (``POST /api/v1/ingest``), their limits, and the defaults
the reporter fills in. The same rules as ingest's ``ReportedVital`` schema (apps/ingest/src/ingest-body.ts); a
test in the repository compares the two, so they cannot drift apart."""

from __future__ import annotations

import time
import uuid
from typing import Any, Dict, Mapping, Tuple

KINDS: Tuple[str, ...] = ("llm", "tool", "task")

#: Text fields and their longest accepted length.
TEXT_FIELDS: Dict[str, int] = {
    "id": 128,
    "agent_id": 256,
    "model": 256,
    "provider": 128,
    "error_type": 128,
    "prompt_hash": 128,
    "request_hash": 128,
    "tool_name": 256,
    "mcp_server": 256,
    "trace_id": 64,
}
#: Whole, non-negative counts: PostgreSQL ``integer`` columns, so at most 2^31 - 1.
COUNT_FIELDS: Tuple[str, ...] = ("input_tokens", "output_tokens", "total_tokens", "tool_calls", "retries")
#: Non-negative amounts (milliseconds, USD).
AMOUNT_FIELDS: Tuple[str, ...] = ("latency_ms", "ttft_ms", "cost")
#: Fields ingest requires once the reporter's defaults are filled in.
REQUIRED: Tuple[str, ...] = ("agent_id", "kind", "latency_ms", "input_tokens", "output_tokens", "success")

INT4_MAX = 2_147_483_647
AMOUNT_MAX = 1e15
#: The largest timestamp PostgreSQL's ``timestamptz`` round-trips in epoch ms (9999-12-31T23:59:59.999Z).
MAX_TS = 253_402_300_799_999

FIELDS = frozenset(TEXT_FIELDS) | frozenset(COUNT_FIELDS) | frozenset(AMOUNT_FIELDS) | {"ts", "kind", "success", "source"}


def describe() -> Dict[str, Any]:
    """The rules above as data, for the repository's test that compares them with ingest's schema."""
    return {
        "kinds": list(KINDS),
        "text": TEXT_FIELDS,
        "counts": list(COUNT_FIELDS),
        "amounts": list(AMOUNT_FIELDS),
        "required": list(REQUIRED),
        "int_max": INT4_MAX,
        "amount_max": AMOUNT_MAX,
        "max_ts": MAX_TS,
        "fields": sorted(FIELDS),
    }


def complete(report: Mapping[str, Any], agent_id: str | None, now_ms: int | None = None) -> Dict[str, Any]:
    """The vital ingest receives: the report with the reporter's defaults, checked field by field.

    Raises ``TypeError`` or ``ValueError`` naming the field, so a mistake shows where it is made rather than as
    a refused batch later."""
    unknown = sorted(set(report) - FIELDS)
    if unknown:
        raise TypeError(f"immune_sdk: unknown vital field(s): {', '.join(unknown)}")
    if report.get("source", "ingest") != "ingest":
        raise ValueError("immune_sdk: source must be 'ingest' (only the gateway and MCP proxy report others)")
    vital: Dict[str, Any] = {key: value for key, value in report.items() if value is not None}
    vital.setdefault("agent_id", agent_id)
    if vital["agent_id"] is None:
        raise TypeError("immune_sdk: agent_id is required (in the report or as the reporter's agent_id)")
    vital.setdefault("id", str(uuid.uuid4()))
    vital.setdefault("ts", int(time.time() * 1000) if now_ms is None else now_ms)
    vital["source"] = "ingest"
    vital.setdefault("kind", "task")
    vital.setdefault("input_tokens", 0)
    vital.setdefault("output_tokens", 0)
    vital.setdefault("tool_calls", 0)
    vital.setdefault("retries", 0)
    vital.setdefault("cost", 0)
    vital.setdefault("success", True)
    if "latency_ms" not in vital:
        raise TypeError("immune_sdk: latency_ms is required")
    _check(vital)
    vital.setdefault("total_tokens", vital["input_tokens"] + vital["output_tokens"])
    _check_count("total_tokens", vital["total_tokens"])
    return vital


def _check(vital: Mapping[str, Any]) -> None:
    for name, limit in TEXT_FIELDS.items():
        if name in vital:
            value = vital[name]
            if not isinstance(value, str):
                raise TypeError(f"immune_sdk: {name} must be a string, got {type(value).__name__}")
            if len(value) > limit or (name in ("id", "agent_id") and value == ""):
                raise ValueError(f"immune_sdk: {name} must be 1 to {limit} characters long")
    if vital["kind"] not in KINDS:
        raise ValueError(f"immune_sdk: kind must be one of {', '.join(KINDS)}, got {vital['kind']!r}")
    if not isinstance(vital["success"], bool):
        raise TypeError("immune_sdk: success must be a bool")
    ts = vital["ts"]
    if isinstance(ts, bool) or not isinstance(ts, int) or not 0 <= ts <= MAX_TS:
        raise ValueError(f"immune_sdk: ts must be epoch milliseconds (an int from 0 to {MAX_TS}), got {ts!r}")
    for name in COUNT_FIELDS:
        if name in vital:
            _check_count(name, vital[name])
    for name in AMOUNT_FIELDS:
        if name in vital:
            value = vital[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"immune_sdk: {name} must be a number, got {type(value).__name__}")
            if not 0 <= value <= AMOUNT_MAX:  # also refuses NaN
                raise ValueError(f"immune_sdk: {name} must be from 0 to {AMOUNT_MAX:g}, got {value!r}")


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"immune_sdk: {name} must be a whole number, got {type(value).__name__}")
    if not 0 <= value <= INT4_MAX:
        raise ValueError(f"immune_sdk: {name} must be from 0 to {INT4_MAX}, got {value}")
