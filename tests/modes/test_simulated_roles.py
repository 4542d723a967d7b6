"""With a sk_test_ key every mode is worth trying: simulated models play every role."""

from __future__ import annotations

import re

from tests.conftest import Harness
from tests.modes.conftest import A, B, C, chat

QUESTION = "Should our team move from a monolith to microservices?"


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) >= 4]


async def test_synthesis_is_built_from_the_members_answers(h: Harness) -> None:
    body = await chat(h, await h.headers(), QUESTION, mode="ensemble", models=[A, B, C])
    members = [m["content"] for m in body["details"]["members"]]
    used = [any(s in body["content"] for s in sentences(m)[1:]) for m in members]
    assert sum(used) >= 2, "the synthesis carries points of several members"
    assert body["details"]["fallback"] is None
    again = await chat(h, await h.headers(), QUESTION, mode="ensemble", models=[A, B, C])
    assert again["content"] == body["content"], "deterministic"


async def test_judges_answer_in_json(h: Harness) -> None:
    headers = await h.headers()
    best = await chat(h, headers, QUESTION, mode="ensemble", models=[A, B, C],
                      aggregation="best_of_n")
    assert best["details"]["verdict_method"] == "json" and best["details"]["reason"]
    assert best["content"] in [m["content"] for m in best["details"]["members"]]
    consensus = await chat(h, headers, QUESTION, mode="ensemble", models=[A, B, C],
                           aggregation="consensus")
    assert consensus["details"]["method"] == "judge"
    assert consensus["details"]["winner"] in consensus["details"]["agreeing"]


async def test_union_names_the_models_behind_each_point(h: Harness) -> None:
    body = await chat(h, await h.headers(), QUESTION, mode="ensemble", models=[A, B],
                      aggregation="union")
    points = body["details"]["points"]
    assert len(points) >= 3
    assert all(p["models"] and set(p["models"]) <= {A, B} for p in points)
    assert {m for p in points for m in p["models"]} == {A, B}


async def test_debaters_take_sides_and_answer_each_other(h: Harness) -> None:
    body = await chat(h, await h.headers(), "Remote work beats the office.", mode="debate",
                      models=[A, B, C])
    rounds = body["details"]["rounds"]
    assert "I stand for the proposition" in rounds[0]["pro"]["content"]
    assert "I stand against the proposition" in rounds[0]["con"]["content"]
    for number in (1, 2, 3):
        con_said = rounds[number - 1]["con"]["content"]
        pro_reply = rounds[number]["pro"]["content"]
        quoted = re.search(r'Con argues that "(.+?)"', pro_reply)
        assert quoted and quoted.group(1)[:30] in con_said, "Pro answers Con's last point"
        assert 'Pro argues that "' in rounds[number]["con"]["content"]
    verdict = body["details"]["verdict"]
    assert verdict["method"] == "json" and verdict["winner"] in ("pro", "con", "draw")
    assert verdict["reasoning"]


async def test_experts_keep_their_role_and_the_synthesizer_integrates(h: Harness) -> None:
    roles = [{"name": "Security Reviewer", "perspective": "attack surface and data safety"},
             {"name": "Devil's Advocate", "perspective": "what could go wrong"}]
    body = await chat(h, await h.headers(), QUESTION, mode="council", roles=roles)
    experts = body["details"]["experts"]
    for expert in experts:
        assert expert["content"].startswith(f"As the {expert['name']},")
    assert "attack surface" in experts[0]["content"]
    for name in ("Security Reviewer", "Devil's Advocate"):
        assert f"The {name} points out" in body["content"]
    assert "**Next steps:**" in body["content"]


async def test_a_persona_changes_the_voice(h: Harness) -> None:
    body = await chat(h, await h.headers(), QUESTION, model=A,
                      personas=[{"personaId": "pragmatist", "modelId": A}])
    assert body["content"].startswith("Speaking as a pragmatist: ")
