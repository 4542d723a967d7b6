"""Every mode's real answer has the documented shape (chorus.chat.answer, with each mode's
details from chorus.modes.details), which /openapi.json shows: the shapes the modes build are
the contract clients read."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from chorus.chat.answer import DETAILS, ChatAnswer
from chorus.modes.details import as_json
from tests.conftest import Harness

CITY = {"type": "json_schema", "json_schema": {"name": "city", "schema": {
    "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}


@pytest.mark.parametrize("body", [
    {"mode": "smart_chat"},
    {"mode": "ensemble", "aggregation": "synthesis"},
    {"mode": "ensemble", "aggregation": "best_of_n"},
    {"mode": "ensemble", "aggregation": "consensus"},
    {"mode": "ensemble", "aggregation": "union"},
    {"mode": "ensemble", "aggregation": "consensus", "response_format": CITY},
    {"mode": "debate"},
    {"mode": "debate", "response_format": CITY},
    {"mode": "council"},
], ids=lambda b: "-".join(str(v) if isinstance(v, str) else "json" for v in b.values()))
async def test_each_modes_answer_has_the_documented_shape(harness: Harness,
                                                          body: dict[str, Any]) -> None:
    headers = await harness.headers()
    response = await harness.client.post("/v1/chat", headers=headers,
                                         json={"message": "Is Rust good for a CLI?", **body})
    assert response.status_code == 200, response.text
    answer = ChatAnswer.model_validate(response.json())
    assert isinstance(answer.details, DETAILS[answer.mode])
    sent = response.json()["details"]
    shaped = as_json(TypeAdapter(DETAILS[answer.mode]).validate_python(sent))
    # Nothing sent that the shape leaves out, nothing the shape has that was not sent, and
    # the mode's fields in the order the shape declares them (the turn adds `tools` last).
    assert shaped == sent
    web = ["tools", "sources", "searches"]
    assert list(sent) == [k for k in shaped if k not in web] + [k for k in sent if k in web]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_openapi_describes_the_answer_and_each_modes_details(harness: Harness) -> None:
    document = (await harness.client.get("/openapi.json")).json()
    answer = document["paths"]["/v1/chat"]["post"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ChatAnswer")
    schemas = document["components"]["schemas"]
    assert {"ChatAnswer", "SmartChatDetails", "SynthesisDetails", "BestOfNDetails",
            "ConsensusDetails", "UnionDetails", "MergedDetails", "DebateDetails",
            "CouncilDetails", "Member", "Step", "Speech", "Round", "Verdict", "Expert"
            } <= set(schemas)
    assert "routed_to" in schemas["SmartChatDetails"]["properties"]
    assert {"winner", "agreement", "agreeing"} <= set(schemas["ConsensusDetails"]["required"])
    assert "answer" not in schemas["DebateDetails"]["required"]
