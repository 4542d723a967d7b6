"""What the fault tests share: an upstream with short timeouts, and how a session is checked."""

from __future__ import annotations

from chorus.config import FileConfig, ModelConfig, ProviderConfig
from tests.conftest import Harness

FIRST_BYTE_TIMEOUT = 0.3
TOTAL_TIMEOUT = 1.0


def upstream_config(fake_url: str, models: dict[str, str],
                    first_byte_timeout: float = FIRST_BYTE_TIMEOUT,
                    total_timeout: float = TOTAL_TIMEOUT) -> FileConfig:
    """One provider on the fake (short timeouts by default); `models` maps ids to upstreams."""
    provider = ProviderConfig(name="fake", base_url=f"{fake_url}/v1", api_key="fake-key",
                              first_byte_timeout=first_byte_timeout,
                              total_timeout=total_timeout, max_retries=1)
    return FileConfig(providers=[provider],
                      models=[ModelConfig(id=i, provider="fake", upstream=u)
                              for i, u in models.items()])


async def messages_of(h: Harness, headers: dict[str, str], session_id: str) -> list[dict]:
    response = await h.client.get(f"/v1/sessions/{session_id}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message_count"] == len(body["messages"])
    return list(body["messages"])


def assert_every_question_settled(messages: list[dict]) -> None:
    """Each question is followed by its answer or by a recorded failure."""
    for index, message in enumerate(messages):
        if message["role"] == "user":
            assert index + 1 < len(messages), f"question {message['content']!r} has no answer"
            after = messages[index + 1]
            assert after["role"] == "assistant"
            assert after["content"] or after.get("error"), after
