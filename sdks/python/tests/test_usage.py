import unittest

from immune_sdk import usage_fields


class UsageFieldsTest(unittest.TestCase):
    def test_openai_usage_wrapped_by_langchain(self) -> None:
        output = {"token_usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}, "model_name": "x"}
        self.assertEqual(usage_fields(output), {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17})

    def test_anthropic_usage(self) -> None:
        self.assertEqual(
            usage_fields({"usage": {"input_tokens": 3, "output_tokens": 4}}), {"input_tokens": 3, "output_tokens": 4}
        )

    def test_a_bare_usage_object(self) -> None:
        self.assertEqual(usage_fields({"prompt_tokens": 1, "completion_tokens": 2}), {"input_tokens": 1, "output_tokens": 2})

    def test_nothing_known_is_zero(self) -> None:
        for output in (None, {}, {"token_usage": {"prompt_tokens": -1, "completion_tokens": "2"}}):
            with self.subTest(output=output):
                self.assertEqual(usage_fields(output), {"input_tokens": 0, "output_tokens": 0})


if __name__ == "__main__":
    unittest.main()
