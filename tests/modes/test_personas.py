"""Personas: the 14 built-ins, custom ones per user (tier pro+), and using them in a chat."""

from __future__ import annotations

from tests.conftest import Harness
from tests.modes.conftest import A, B, chat
from tests.modes.script import Script

BUILT_INS = {
    "default": "general", "technical_expert": "general", "business_strategist": "general",
    "devils_advocate": "general", "optimist": "general", "pragmatist": "general",
    "analyst": "general", "cto": "domain_expert", "cfo": "domain_expert",
    "advocate": "debate", "critic": "debate", "impartial_judge": "debate",
    "attacker": "red_team", "defender": "red_team",
}
PIRATE = {"id": "pirate_2", "name": "Pirate", "description": "Talks like a pirate.",
          "systemPrompt": "You are a pirate captain. Answer in pirate speak."}


async def test_the_built_ins_exactly(harness: Harness) -> None:
    for path in ("/v1/personas", "/api/personas"):
        body = (await harness.client.get(path, headers=await harness.headers())).json()
        assert set(body) == {"personas"}
        assert {p["id"]: p["category"] for p in body["personas"]} == BUILT_INS
        for persona in body["personas"]:
            assert set(persona) == {"id", "name", "description", "category", "isBuiltIn"}
            assert persona["isBuiltIn"] is True and persona["name"] and persona["description"]


async def test_custom_personas_are_created_listed_and_deleted(harness: Harness) -> None:
    headers = await harness.headers(tier="pro")
    created = await harness.client.post("/v1/personas", headers=headers, json=PIRATE)
    assert created.status_code == 201
    assert created.json() == {"id": "pirate_2", "name": "Pirate",
                              "description": "Talks like a pirate.", "category": "custom",
                              "isBuiltIn": False, "systemPrompt": PIRATE["systemPrompt"]}
    listed = (await harness.client.get("/api/personas", headers=headers)).json()["personas"]
    assert listed[-1]["id"] == "pirate_2" and len(listed) == 15
    other = (await harness.client.get("/v1/personas", headers=await harness.headers())).json()
    assert len(other["personas"]) == 14, "custom personas are private to their user"
    deleted = await harness.client.delete("/api/personas/pirate_2", headers=headers)
    assert deleted.json() == {"id": "pirate_2", "object": "persona.deleted", "deleted": True}
    again = await harness.client.delete("/v1/personas/pirate_2", headers=headers)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


async def test_custom_personas_need_the_pro_tier(harness: Harness) -> None:
    response = await harness.client.post("/v1/personas", headers=await harness.headers(
        tier="free"), json=PIRATE)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tier_required"


async def test_bad_personas_are_400(harness: Harness) -> None:
    headers = await harness.headers(tier="pro")
    for body in ({**PIRATE, "id": "Pirate"}, {**PIRATE, "id": "pi-rate"}, {**PIRATE, "id": ""},
                 {**PIRATE, "systemPrompt": ""}, {"id": "x", "name": "x"},
                 {**PIRATE, "id": "cto"}):
        response = await harness.client.post("/v1/personas", headers=headers, json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid_request"
    assert (await harness.client.post("/v1/personas", headers=headers,
                                      json=PIRATE)).status_code == 201
    twice = await harness.client.post("/v1/personas", headers=headers, json=PIRATE)
    assert twice.status_code == 400 and "already exists" in twice.json()["error"]["message"]
    built_in = await harness.client.delete("/v1/personas/cto", headers=headers)
    assert built_in.status_code == 400


async def test_a_custom_persona_speaks_in_a_chat(h: Harness, script: Script) -> None:
    headers = await h.headers(tier="pro")
    await h.client.post("/v1/personas", headers=headers, json=PIRATE)
    await chat(h, headers, mode="ensemble", models=[A, B],
               personas=[{"personaId": "pirate_2", "modelId": B}])
    by_model = {r.model: r for r in script.calls("member")}
    assert by_model[B].system == PIRATE["systemPrompt"] and by_model[A].system == ""


async def test_unknown_or_foreign_personas_are_400(h: Harness, script: Script) -> None:
    owner = await h.headers(tier="pro")
    await h.client.post("/v1/personas", headers=owner, json=PIRATE)
    stranger = await h.headers()
    for persona in ("pirate_2", "nobody"):
        error = (await chat(h, stranger, status=400, personas=[
            {"personaId": persona, "modelId": A}], model=A))["error"]
        assert persona in error["message"] and error["code"] == "invalid_request"
    assert script.records == []


async def test_a_built_in_persona_in_smart_chat(h: Harness, script: Script) -> None:
    await chat(h, await h.headers(), model=A, personas=[{"personaId": "analyst",
                                                          "modelId": A}])
    assert "You are an analyst." in script.calls()[0].system
