import unittest

from immune_sdk.transport import Response, backoff_ceiling, retry_after, retryable


class BackoffTest(unittest.TestCase):
    def test_doubles_up_to_the_cap(self) -> None:
        self.assertEqual([backoff_ceiling(n, 0.25, 10.0) for n in range(1, 8)], [0.25, 0.5, 1, 2, 4, 8, 10])

    def test_retry_after_seconds_capped_at_a_minute(self) -> None:
        self.assertEqual(retry_after("2"), 2.0)
        self.assertEqual(retry_after("3600"), 60.0)
        self.assertIsNone(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"))
        self.assertIsNone(retry_after("-1"))
        self.assertIsNone(retry_after(None))

    def test_transient_statuses(self) -> None:
        self.assertEqual([s for s in (200, 202, 400, 401, 408, 413, 429, 500, 503) if retryable(s)], [408, 429, 500, 503])

    def test_describes_ingest_errors(self) -> None:
        response = Response(400, {"error": {"code": "TOO_MANY_VITALS", "message": "too many"}})
        self.assertEqual(response.error_code, "TOO_MANY_VITALS")
        self.assertEqual(response.describe(), "TOO_MANY_VITALS: too many (HTTP 400)")
        self.assertEqual(Response(502, None).describe(), "HTTP 502")


if __name__ == "__main__":
    unittest.main()
