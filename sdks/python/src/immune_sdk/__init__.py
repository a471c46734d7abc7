"""Immune's Python SDK: report an agent's vitals to Immune's ingest service and register the agent.

Standard library only, Python 3.9+."""

__version__ = "0.1.0"

from .errors import ReporterError  # noqa: E402
from .reporter import ImmuneReporter, ReporterStats  # noqa: E402
from .usage import usage_fields  # noqa: E402

__all__ = ["ImmuneReporter", "ReporterError", "ReporterStats", "usage_fields", "__version__"]
