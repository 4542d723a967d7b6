"""OpenAI options: finish_reason says when max_tokens cut the answer; stop as OpenAI takes it."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.sse import stream_chunks


async def test_finish_reason_is_length_when_max_tokens_cuts_the_answer(harness: Harness) -> None:
    headers = await harness.headers()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Explain DNS"}]}
    whole = (await harness.client.post("/v1/chat/completions", headers=headers,
                                       json=body)).json()
    assert whole["choices"][0]["finish_reason"] == "stop"
    cut = (await harness.client.post("/v1/chat/completions", headers=headers,
                                     json={**body, "max_tokens": 3})).json()
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] <= 3
    chunks = (await stream_chunks(harness.client, {**body, "max_tokens": 3}, headers))[:-1]
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c.get("choices")]
    assert finishes[-1] == "length" and set(finishes[:-1]) == {None}


@pytest.mark.parametrize("model", ["konnect-ensemble", "konnect-debate", "konnect-council"])
async def test_multi_model_answers_say_when_max_tokens_cut_them(harness: Harness,
                                                                model: str) -> None:
    headers = await harness.headers()
    body = {"model": model, "messages": [{"role": "user", "content": "Explain DNS"}]}
    whole = (await harness.client.post("/v1/chat/completions", headers=headers,
                                       json=body)).json()
    assert whole["choices"][0]["finish_reason"] == "stop"
    cut = (await harness.client.post("/v1/chat/completions", headers=headers,
                                     json={**body, "max_tokens": 3})).json()
    assert cut["choices"][0]["finish_reason"] == "length", cut


async def test_stop_is_one_string_of_any_length_or_up_to_four(harness: Harness) -> None:
    headers = await harness.headers()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Explain DNS"}]}
    for stop in ("a long stop sequence", ["one", "two", "three", "four"]):
        response = await harness.client.post("/v1/chat/completions", headers=headers,
                                             json={**body, "stop": stop})
        assert response.status_code == 200, response.text
    five = await harness.client.post("/v1/chat/completions", headers=headers,
                                     json={**body, "stop": ["a", "b", "c", "d", "e"]})
    assert five.status_code == 400 and five.json()["error"]["param"] == "stop"
