"""council: experts in parallel from their perspectives, then the Synthesizer; failures."""

from __future__ import annotations

import pytest

from chorus.modes.council import DEFAULT_EXPERTS
from chorus.types import ModelRequest
from tests.conftest import Harness
from tests.modes.conftest import A, B, C, D, chat
from tests.modes.script import Reply, Script, fails

QUESTION = "How should a small team choose a database?"


def expert_says(request: ModelRequest) -> str:
    system = request.messages[0].content
    name = system.split("expert council as the ")[1].split(".")[0]
    return f"{name} view."


@pytest.fixture
def council(script: Script) -> Script:
    script.default = Reply(expert_says)
    script.replies = {"synthesizer": Reply("Integrated recommendation.")}
    return script


async def test_default_experts_answer_in_parallel_then_the_synthesizer(
        h: Harness, council: Script) -> None:
    body = await chat(h, await h.headers(), QUESTION, mode="council", models=[A, B])
    experts = council.calls("member")
    assert [e.system.split("as the ")[1].split(".")[0] for e in experts] == [
        "Domain Expert", "Devil's Advocate", "Practical Implementer", "Strategic Thinker"]
    assert [e.model for e in experts] == [A, B, A, B], "models cycle over the experts"
    assert max(e.started for e in experts) - min(e.started for e in experts) < 0.2
    assert all(e.prompt == QUESTION for e in experts)
    (synth,) = council.calls("synthesizer")
    assert synth.model == B, "the priciest model of the request synthesizes"
    for name in ("Domain Expert view.", "Strategic Thinker view.", "Devil's Advocate"):
        assert name in synth.prompt
    assert body["content"] == "Integrated recommendation."
    details = body["details"]
    assert details["synthesizer"] == B
    assert [e["name"] for e in details["experts"]] == [r.name for r in DEFAULT_EXPERTS]
    for entry, role in zip(details["experts"], DEFAULT_EXPERTS, strict=True):
        assert {"name", "perspective", "model", "status", "content"} <= set(entry)
        assert entry["perspective"] == role.perspective and entry["status"] == "ok"
    assert body["models_used"] == [A, B]


async def test_custom_roles_replace_the_experts_and_a_synthesizer_is_added(
        h: Harness, council: Script) -> None:
    roles = [{"name": "Security Reviewer", "perspective": "attack surface and data safety"},
             {"name": "Budget Owner", "perspective": "total cost over three years"}]
    body = await chat(h, await h.headers(), QUESTION, mode="council", roles=roles,
                      models=[A, B, D])
    experts = council.calls("member")
    assert [e.model for e in experts] == [A, B]
    assert "Your perspective: attack surface and data safety" in experts[0].system
    assert council.calls("synthesizer")[0].model == D, "one model more than experts: it synthesizes"
    assert [e["name"] for e in body["details"]["experts"]] == ["Security Reviewer",
                                                                "Budget Owner"]
    assert body["details"]["synthesizer"] == D


async def test_a_persona_joins_the_expert_role_in_one_system_prompt(
        h: Harness, council: Script) -> None:
    await chat(h, await h.headers(), QUESTION, mode="council", models=[A, B],
               personas=[{"personaId": "cfo", "modelId": B}])
    by_expert = {e.system.split("as the ")[1].split(".")[0]: e for e in council.calls("member")}
    devils = by_expert["Devil's Advocate"]
    assert [m.role for m in devils.request.messages].count("system") == 1
    assert "experienced CFO" in devils.system and "Devil's Advocate" in devils.system
    assert "CFO" not in by_expert["Domain Expert"].system


async def test_a_failed_expert_is_skipped(h: Harness, council: Script) -> None:
    council.replies[B] = fails("B down")
    body = await chat(h, await h.headers(), QUESTION, mode="council", models=[A, B, C])
    synth = council.calls("synthesizer")[0].prompt
    assert "Domain Expert view." in synth and "Devil's Advocate view." not in synth
    failed = body["details"]["experts"][1]
    assert failed["status"] == "failed" and failed["error"]["message"] == "B down"
    assert B not in body["models_used"]


async def test_every_expert_failing_is_an_upstream_error(h: Harness, council: Script) -> None:
    council.default = fails("all down")
    error = (await chat(h, await h.headers(), QUESTION, status=502, mode="council",
                        models=[A]))["error"]
    assert error["code"] == "upstream_error"
    assert council.calls("synthesizer") == []


async def test_synthesizer_failure_gives_the_experts_views(h: Harness, council: Script) -> None:
    council.replies = {"synthesizer": fails("synth down")}
    body = await chat(h, await h.headers(), QUESTION, mode="council", models=[A, B])
    assert body["content"].startswith("### Domain Expert\n\nDomain Expert view.")
    assert "### Strategic Thinker\n\nStrategic Thinker view." in body["content"]
    details = body["details"]
    assert details["synthesizer_status"] == "failed"
    assert details["synthesizer_error"]["message"] == "synth down"
    assert "Synthesizer failed" in details["fallback"]
    assert body["models_used"] == [A, B]


async def test_council_models_default_from_settings_then_the_pool(
        h: Harness, council: Script) -> None:
    headers = await h.headers()
    body = await chat(h, headers, QUESTION, mode="council")
    assert len({e["model"] for e in body["details"]["experts"]}) == 4, "four different models"
    await h.client.patch("/v1/settings", headers=headers, json={"council_models": [C]})
    body = await chat(h, headers, QUESTION, mode="council")
    assert {e["model"] for e in body["details"]["experts"]} == {C}


@pytest.mark.parametrize(("extra", "words"), [
    ({"models": [A, B, C, D, A, B]}, "at most one per expert"),
    ({"roles": [{"name": "X", "perspective": "a"}, {"name": "x", "perspective": "b"}]},
     "name of its own"),
    ({"roles": [{"name": "Only", "perspective": "one"}]}, "roles"),
    ({"models": ["no-such-model"]}, "no-such-model"),
])
async def test_bad_councils_are_400(h: Harness, council: Script, extra: dict,
                                    words: str) -> None:
    error = (await chat(h, await h.headers(), QUESTION, status=400, mode="council",
                        **extra))["error"]
    assert words in error["message"]


async def test_council_needs_the_power_tier(h: Harness, council: Script) -> None:
    error = (await chat(h, await h.headers(tier="pro"), QUESTION, status=403,
                        mode="council"))["error"]
    assert error["code"] == "tier_required"
