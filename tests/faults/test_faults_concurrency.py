"""Many chats into one session at once: every message kept, in order, with an exact count."""

from __future__ import annotations

import asyncio

from tests.conftest import FakeUpstream, harness_for
from tests.faults.conftest import messages_of, upstream_config

CHATS = 20


async def test_concurrent_chats_into_one_session_keep_every_message(
        database_url: str, fake_llm: FakeUpstream) -> None:
    # Generous timeouts: on a busy machine twenty answers at once must not time out.
    file = upstream_config(fake_llm.url, {"ok": "small@tokens=12", "flaky": "small@fault=cut"},
                           first_byte_timeout=30, total_timeout=60)
    async with harness_for(database_url, file=file) as h:
        headers = await h.headers(test=False)
        first = await h.client.post("/v1/chat", headers=headers,
                                    json={"message": "opening", "model": "ok"})
        session_id = first.json()["session_id"]

        async def ask(n: int) -> int:
            # Every fourth one fails mid-stream, so failures interleave with answers.
            body = {"message": f"question {n:02d}", "session_id": session_id,
                    "model": "flaky" if n % 4 == 3 else "ok", "stream": n % 2 == 0}
            response = await h.client.post("/v1/chat", headers=headers, json=body)
            return response.status_code

        statuses = await asyncio.gather(*(ask(n) for n in range(CHATS)))
        messages = await messages_of(h, headers, session_id)
        listed = (await h.client.get("/v1/sessions", headers=headers)).json()["data"][0]
    assert sorted(statuses) == [200] * (CHATS - CHATS // 4) + [502] * (CHATS // 4)
    assert len(messages) == listed["message_count"] == 2 * (CHATS + 1)
    questions = [m["content"] for m in messages if m["role"] == "user"]
    assert sorted(questions) == ["opening", *(f"question {n:02d}" for n in range(CHATS))]
    asked_at = [m["created_at"] for m in messages if m["role"] == "user"]
    assert asked_at == sorted(asked_at)
    answers = [m for m in messages if m["role"] == "assistant"]
    assert len(answers) == CHATS + 1 and len({m["id"] for m in messages}) == len(messages)
    assert sum(1 for m in answers if m.get("error")) == CHATS // 4
    for question in questions:
        asked = next(i for i, m in enumerate(messages) if m["content"] == question)
        if question.startswith("question") and int(question.split()[1]) % 4 == 3:
            continue
        answered = next(i for i, m in enumerate(messages)
                        if m["content"].startswith(f"Fake answer to: {question}"))
        assert answered > asked, f"{question!r} was answered before it was asked"
    # Turns ran concurrently, yet each answer or failure is right after its own question.
    assert [m["role"] for m in messages] == ["user", "assistant"] * (CHATS + 1)
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert answer.get("error") or answer["content"].startswith(
            f"Fake answer to: {question['content']}")
