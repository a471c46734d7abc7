"""Token counts out of the usage shapes LLM clients hand back."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional


def usage_fields(output: Optional[Mapping[str, Any]]) -> Dict[str, int]:
    """``input_tokens`` / ``output_tokens`` (and ``total_tokens`` when given) from an OpenAI-style ``usage``
    (``prompt_tokens``, ``completion_tokens``), an Anthropic-style one (``input_tokens``, ``output_tokens``), or
    LangChain's ``llm_output`` that wraps either as ``token_usage`` / ``usage``. Missing counts are 0."""
    if not output:
        return {"input_tokens": 0, "output_tokens": 0}
    usage: Mapping[str, Any] = output
    for wrapper in ("token_usage", "usage"):
        inner = output.get(wrapper)
        if isinstance(inner, Mapping):
            usage = inner
            break
    fields = {
        "input_tokens": _count(usage, "prompt_tokens", "input_tokens"),
        "output_tokens": _count(usage, "completion_tokens", "output_tokens"),
    }
    total = usage.get("total_tokens")
    if isinstance(total, int) and not isinstance(total, bool) and total >= 0:
        fields["total_tokens"] = total
    return fields


def _count(usage: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0
