"""ensemble: members in parallel, the four aggregations, and every failure path."""

from __future__ import annotations

import json

import pytest

from chorus.errors import UpstreamTimeout
from tests.conftest import Harness
from tests.modes.conftest import STRONG, A, B, C, D, chat
from tests.modes.script import Reply, Script, fails

LONG_1 = ("Rayleigh scattering makes shorter blue wavelengths scatter much more than red ones "
          "in the atmosphere, so blue light reaches our eyes from every direction of the sky.")
LONG_2 = ("Sunlight is scattered by air molecules; blue wavelengths scatter far more strongly "
          "than red ones (Rayleigh scattering), so the sky looks blue from every direction.")
LONG_3 = ("The ocean reflects its colour onto the sky, which is why coastal skies look bluer "
          "than inland ones on bright days, according to an old and mistaken explanation.")


def ensemble(models: list[str], aggregation: str = "synthesis", **extra: object) -> dict:
    return {"mode": "ensemble", "models": models, "aggregation": aggregation, **extra}


async def test_synthesis_aggregator_writes_one_answer_from_all(h: Harness,
                                                               script: Script) -> None:
    script.replies = {A: Reply("Answer of A."), B: Reply("Answer of B."),
                      "aggregator": Reply("One combined answer.")}
    body = await chat(h, await h.headers(), **ensemble([A, B, STRONG]))
    assert body["content"] == "One combined answer."
    assert body["models_used"] == [A, B, STRONG]
    (aggregator,) = script.calls("aggregator")
    assert aggregator.model == STRONG, "the default aggregator is the priciest model"
    assert "Answer of A." in aggregator.prompt and "Answer of B." in aggregator.prompt
    assert "Why is the sky blue?" in aggregator.prompt
    details = body["details"]
    assert details["aggregation"] == "synthesis" and details["failed"] == []
    assert [m["model"] for m in details["members"]] == [A, B, STRONG]
    for member in details["members"]:
        assert set(member) >= {"model", "persona", "status", "content", "error", "latency_ms",
                               "usage"}
        assert member["status"] == "ok" and member["error"] is None
    assert details["aggregator"]["model"] == STRONG
    assert body["usage"]["total_tokens"] == sum(
        m["usage"]["total_tokens"] for m in details["members"]) + \
        details["aggregator"]["usage"]["total_tokens"]


async def test_defaults_two_models_from_the_pool_and_synthesis(h: Harness,
                                                               script: Script) -> None:
    body = await chat(h, await h.headers(), mode="ensemble")
    details = body["details"]
    assert details["aggregation"] == "synthesis"
    models = [m["model"] for m in details["members"]]
    assert len(models) == 2 and len(set(models)) == 2
    families = {h.services.catalog.get(m, True).id.split("-")[0] for m in models}
    assert len(families) == 2, "the default picks come from different vendors"


async def test_settings_and_config_choose_models_and_aggregator(h: Harness,
                                                                script: Script) -> None:
    headers = await h.headers()
    h.settings.file.defaults.aggregator_model = D
    response = await h.client.patch("/v1/settings", headers=headers, json={
        "ensemble_models": [A, B, C], "ensemble_aggregation": "best_of_n"})
    assert response.status_code == 200
    script.replies = {"judge": Reply('{"best": 3, "reason": "C is right."}'),
                      C: Reply("C says this.")}
    body = await chat(h, headers, mode="ensemble")
    assert [m["model"] for m in body["details"]["members"]] == [A, B, C]
    assert body["details"]["aggregation"] == "best_of_n"
    assert script.calls("judge")[0].model == D
    assert body["content"] == "C says this."


async def test_best_of_n_returns_the_winner_verbatim_with_the_reason(h: Harness,
                                                                     script: Script) -> None:
    script.replies = {A: Reply("A's answer."), B: Reply("B's **exact** answer."),
                      C: Reply("C's answer."),
                      "judge": Reply('{"best": 2, "reason": "B explains the mechanism."}')}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "best_of_n"))
    assert body["content"] == "B's **exact** answer."
    assert body["models_used"] == [B]
    details = body["details"]
    assert details["winner"] == B and details["reason"] == "B explains the mechanism."
    assert details["verdict_method"] == "json" and details["fallback"] is None
    judge = script.calls("judge")[0]
    assert all(text in judge.prompt for text in ("A's answer.", "B's **exact** answer."))


@pytest.mark.parametrize(("verdict", "winner", "method"), [
    ('```json\n{"best": 3, "reason": "C"}\n```', C, "embedded_json"),
    ('I compared them.\n{"winner": "Answer 1", "reasoning": "A"}\nDone.', A, "embedded_json"),
    ("After careful thought, Answer 3 is the best of the three.", C, "text"),
    ('{"best": 9, "reason": "out of range"}', B, "fallback"),
    ("They are all fine.", B, "fallback"),
])
async def test_best_of_n_reads_judges_that_ignore_the_format(
        h: Harness, script: Script, verdict: str, winner: str, method: str) -> None:
    script.replies = {A: Reply(LONG_3), B: Reply(LONG_1), C: Reply(LONG_2),
                      "judge": Reply(verdict)}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "best_of_n"))
    assert body["details"]["winner"] == winner
    assert body["details"]["verdict_method"] == method
    if method == "fallback":
        assert "agrees most with the others" in body["details"]["fallback"]
        assert body["content"] == LONG_1


async def test_best_of_n_judge_failure_falls_back_to_the_most_agreeing(
        h: Harness, script: Script) -> None:
    script.replies = {A: Reply(LONG_3), B: Reply(LONG_1), C: Reply(LONG_2),
                      "judge": fails("judge down")}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "best_of_n"))
    details = body["details"]
    assert details["aggregator"]["status"] == "failed"
    assert details["aggregator"]["error"]["message"] == "judge down"
    assert details["winner"] == B and body["content"] == LONG_1
    assert details["fallback"].startswith("the judge failed")


async def test_consensus_of_short_answers_is_a_normalised_vote(h: Harness,
                                                               script: Script) -> None:
    script.replies = {A: Reply("Paris."), B: Reply("The capital of France is Paris!"),
                      C: Reply("Lyon")}
    body = await chat(h, await h.headers(), "What is the capital of France?",
                      **ensemble([A, B, C], "consensus"))
    details = body["details"]
    assert body["content"] == "Paris."
    assert details["method"] == "vote" and details["winner"] == A
    assert details["agreeing"] == [A, B]
    assert details["agreement"] == pytest.approx(0.667, abs=0.001)
    assert details["agreement_level"] == "majority"
    assert script.calls("judge") == [], "a vote needs no judge"


async def test_consensus_of_long_answers_asks_the_judge(h: Harness, script: Script) -> None:
    script.replies = {A: Reply(LONG_1), B: Reply(LONG_2), C: Reply(LONG_3),
                      "judge": Reply('{"best": 2, "agreeing": [1, 2], "reason": "same physics"}')}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "consensus"))
    details = body["details"]
    assert body["content"] == LONG_2 and details["winner"] == B
    assert details["method"] == "judge" and details["agreeing"] == [A, B]
    assert details["agreement_level"] == "majority" and details["reason"] == "same physics"
    assert body["models_used"] == [B]


async def test_consensus_unreadable_judge_falls_back_to_word_overlap(h: Harness,
                                                                    script: Script) -> None:
    script.replies = {A: Reply(LONG_3), B: Reply(LONG_1), C: Reply(LONG_2),
                      "judge": Reply("I cannot decide.")}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "consensus"))
    details = body["details"]
    assert details["method"] == "similarity" and details["winner"] == B
    assert set(details["agreeing"]) == {B, C}
    assert "could not be read" in details["fallback"]


async def test_union_lists_every_point_with_its_models(h: Harness, script: Script) -> None:
    union = (f"- Blue light scatters more. [{A}, {B}]\n- The ocean does it. [{C}]\n"
             "- Some unattributed point. [nobody]")
    script.replies = {A: Reply(LONG_1), B: Reply(LONG_2), C: Reply(LONG_3),
                      "aggregator": Reply(union)}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "union"))
    assert body["content"] == union
    points = body["details"]["points"]
    assert points[0] == {"point": "Blue light scatters more.", "models": [A, B]}
    assert points[1]["models"] == [C] and points[2]["models"] == []
    prompt = script.calls("aggregator")[0].prompt
    assert f"### Answer from {A}" in prompt and LONG_3 in prompt
    assert script.calls("aggregator")[0].model == C, "the priciest of the three"
    assert body["models_used"] == [A, B, C]


async def test_union_aggregator_failure_gives_a_local_union(h: Harness,
                                                            script: Script) -> None:
    script.replies = {A: Reply("Blue light scatters most. Air is thin."),
                      B: Reply("Blue light scatters most! Sunsets are red."),
                      "aggregator": fails()}
    body = await chat(h, await h.headers(), **ensemble([A, B], "union"))
    assert body["content"] == (f"- Blue light scatters most. [{A}, {B}]\n"
                               f"- Air is thin. [{A}]\n- Sunsets are red. [{B}]")
    assert body["details"]["fallback"].startswith("the aggregator failed")
    assert body["models_used"] == [A, B]


async def test_a_failed_member_is_skipped_and_named(h: Harness, script: Script) -> None:
    script.replies = {A: Reply("A works."), B: fails("B is down"), C: Reply("C works."),
                      "aggregator": Reply("Synthesis.")}
    body = await chat(h, await h.headers(), **ensemble([A, B, C]))
    details = body["details"]
    assert details["failed"] == [B]
    failed = details["members"][1]
    assert failed["status"] == "failed" and failed["content"] == ""
    assert failed["error"] == {"code": "upstream_error", "message": "B is down"}
    prompt = script.calls("aggregator")[0].prompt
    assert "A works." in prompt and "C works." in prompt and "B is down" not in prompt
    assert B not in body["models_used"]


async def test_a_member_failing_mid_stream_or_answering_nothing_is_failed(
        h: Harness, script: Script) -> None:
    script.replies = {A: Reply("partial words then a cut", fail=fails().fail, after=2),
                      B: Reply("   "), C: Reply("C works.")}
    body = await chat(h, await h.headers(), **ensemble([A, B, C], "best_of_n"))
    assert body["details"]["failed"] == [A, B]
    assert body["details"]["members"][1]["error"]["message"] == \
        "the model returned an empty answer"
    assert body["content"] == "C works." and script.calls("judge") == []
    assert "only one model answered" in body["details"]["fallback"]


async def test_every_member_failing_is_an_upstream_error(h: Harness, script: Script) -> None:
    script.replies = {A: fails("A down"), B: fails("B down")}
    headers = await h.headers()
    error = (await chat(h, headers, status=502, **ensemble([A, B])))["error"]
    assert error["code"] == "upstream_error" and error["status"] == 502
    assert "A down" in error["message"] and "B down" in error["message"]
    assert script.calls("aggregator") == []
    sessions = (await h.client.get("/v1/sessions", headers=headers)).json()["data"]
    stored = (await h.client.get(f"/v1/sessions/{sessions[0]['id']}", headers=headers)).json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant"]


async def test_every_member_timing_out_is_an_upstream_timeout(h: Harness,
                                                              script: Script) -> None:
    script.default = Reply(fail=UpstreamTimeout("slow"))
    error = (await chat(h, await h.headers(), status=504, **ensemble([A, B])))["error"]
    assert error["code"] == "upstream_timeout"


async def test_synthesis_aggregator_failure_returns_the_most_agreeing_answer(
        h: Harness, script: Script) -> None:
    script.replies = {A: Reply(LONG_3), B: Reply(LONG_1), C: Reply(LONG_2),
                      "aggregator": fails("aggregator down")}
    body = await chat(h, await h.headers(), **ensemble([A, B, C]))
    assert body["content"] == LONG_1 and body["models_used"] == [B]
    details = body["details"]
    assert details["aggregator"]["status"] == "failed"
    assert "the aggregator failed" in details["fallback"] and B in details["fallback"]


@pytest.mark.parametrize(("body", "words"), [
    ({"models": [A]}, "2 to 5 models"),
    ({"models": [A, B, C, D, STRONG, "gpt-4.1"]}, "2 to 5 models"),
    ({"models": [A, "no-such-model"]}, "no-such-model"),
    ({"models": [A, B], "aggregation": "majority"}, "aggregation"),
    ({"models": [A, B], "personas": [{"personaId": "nobody", "modelId": A}]}, "nobody"),
    ({"models": [A, B], "personas": [{"personaId": "cto", "modelId": C}]}, C),
])
async def test_bad_ensembles_are_400_before_anything_is_stored(
        h: Harness, script: Script, body: dict, words: str) -> None:
    headers = await h.headers()
    error = (await chat(h, headers, status=400, mode="ensemble", **body))["error"]
    assert error["code"] == "invalid_request" and words in error["message"]
    assert (await h.client.get("/v1/sessions", headers=headers)).json()["total"] == 0
    assert script.records == []


async def test_ensemble_needs_the_pro_tier(h: Harness, script: Script) -> None:
    error = (await chat(h, await h.headers(tier="free"), status=403, mode="ensemble"))["error"]
    assert error["code"] == "tier_required"


async def test_personas_apply_to_the_slot_of_their_model(h: Harness, script: Script) -> None:
    body = await chat(h, await h.headers(), **ensemble(
        [A, B], personas=[{"personaId": "cto", "modelId": A}]))
    by_model = {r.model: r for r in script.calls("member")}
    assert "experienced CTO" in by_model[A].system
    assert by_model[B].system == ""
    assert "CTO" not in script.calls("aggregator")[0].system
    assert body["details"]["members"][0]["persona"] == "cto"
    assert body["details"]["members"][1]["persona"] is None


async def test_a_model_may_take_two_slots(h: Harness, script: Script) -> None:
    body = await chat(h, await h.headers(), **ensemble([A, A], "best_of_n"))
    assert [m["model"] for m in body["details"]["members"]] == [A, A]
    assert len(script.calls("member")) == 2


async def test_history_reaches_every_member(h: Harness, script: Script) -> None:
    headers = await h.headers()
    first = await chat(h, headers, "First question?", **ensemble([A, B]))
    await chat(h, headers, "Follow-up?", session_id=first["session_id"])
    last_member = script.calls("member")[-1]
    texts = [m.content for m in last_member.request.messages]
    assert texts[:3] == ["First question?", first["content"], "Follow-up?"]


async def test_judge_prompt_asks_for_json(h: Harness, script: Script) -> None:
    script.replies = {"judge": Reply(json.dumps({"best": 1, "reason": "r"}))}
    await chat(h, await h.headers(), **ensemble([A, B], "best_of_n"))
    assert 'Reply with JSON only' in script.calls("judge")[0].prompt
