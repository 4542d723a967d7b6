"""debate: openings in parallel, three rounds in order, the Judge, and every failure path."""

from __future__ import annotations

import pytest

from chorus.errors import UpstreamError
from chorus.modes.debate import ROUNDS
from chorus.types import ModelRequest
from tests.conftest import Harness
from tests.modes.conftest import A, B, C, D, chat
from tests.modes.script import Reply, Script, fails

MOTION = "Remote work is better than office work."


def speaker(side: str) -> Reply:
    """A debater that says which turn it is, so the transcript can be followed."""
    def text(request: ModelRequest) -> str:
        prompt = request.messages[-1].content
        turn = "opening" if "Give your opening statement" in prompt else \
            prompt.split("\n\nRound ")[-1].split(":")[0]
        return f"{side} speaks ({turn})."
    return Reply(text)


def debate(**extra: object) -> dict:
    return {"mode": "debate", "models": [A, B, C], **extra}


@pytest.fixture
def sides(script: Script) -> Script:
    script.replies = {"pro": speaker("PRO"), "con": speaker("CON"),
                      "judge": Reply('{"winner": "con", "reasoning": "Con rebutted better."}')}
    return script


async def test_turn_order_and_what_each_side_sees(h: Harness, sides: Script) -> None:
    body = await chat(h, await h.headers(), MOTION, **debate())
    turns = [(r.role, r.model) for r in sides.records]
    assert turns == [("pro", A), ("con", B)] + [("pro", A), ("con", B)] * ROUNDS + \
        [("judge", C)]
    debaters = sides.calls("pro") + sides.calls("con")
    assert all(MOTION in r.prompt for r in debaters)
    con_round_1 = sides.calls("con")[1].prompt
    assert "**Pro, round 1:** PRO speaks (1)." in con_round_1, "Con answers Pro's round"
    assert "**Con, opening:** CON speaks (opening)." in con_round_1
    pro_round_2 = sides.calls("pro")[2].prompt
    assert "**Con, round 1:** CON speaks (1)." in pro_round_2
    assert "Round 2: answer Con's latest argument" in pro_round_2
    judge = sides.calls("judge")[0].prompt
    assert judge.count("speaks (") == 2 + 2 * ROUNDS
    assert 'Reply with JSON only' in judge and "missing" not in judge
    assert body["details"]["verdict"] == {"winner": "con", "reasoning": "Con rebutted better.",
                                          "method": "json", "error": None}
    assert body["models_used"] == [A, B, C]


async def test_details_shape_and_content(h: Harness, sides: Script) -> None:
    body = await chat(h, await h.headers(), MOTION, **debate())
    details = body["details"]
    assert details["models"] == {"pro": A, "con": B, "judge": C}
    rounds = details["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    for entry in rounds:
        assert entry["pro"]["model"] == A and entry["con"]["model"] == B
        assert entry["pro"]["side"] == "pro" and entry["pro"]["round"] == entry["round"]
        assert entry["pro"]["status"] == "ok"
    assert rounds[2]["con"]["content"] == "CON speaks (2)."
    content = body["content"]
    assert content.index("Pro, opening") < content.index("Con, opening") < \
        content.index("Pro, round 1") < content.index("Con, round 3") < content.index("Verdict")
    assert content.endswith("**Con wins.** Con rebutted better.")


async def test_default_personas_are_advocate_critic_and_judge(h: Harness,
                                                              sides: Script) -> None:
    body = await chat(h, await h.headers(), MOTION, **debate())
    assert "arguing for the proposition" in sides.calls("pro")[0].system
    assert "arguing against the proposition" in sides.calls("con")[0].system
    assert "impartial judge" in sides.calls("judge")[0].system
    assert body["details"]["rounds"][0]["pro"]["persona"] == "advocate"
    assert body["details"]["judge"]["persona"] == "impartial_judge"


async def test_a_requested_persona_replaces_the_default(h: Harness, sides: Script) -> None:
    await chat(h, await h.headers(), MOTION,
               **debate(personas=[{"personaId": "optimist", "modelId": A}]))
    assert "grounded optimist" in sides.calls("pro")[0].system
    assert "on the PRO side" in sides.calls("pro")[0].prompt, "the side's task stays"


@pytest.mark.parametrize("models", [[A, B], [A, B, C, D]])
async def test_debate_needs_exactly_three_models(h: Harness, script: Script,
                                                 models: list[str]) -> None:
    headers = await h.headers()
    error = (await chat(h, headers, MOTION, status=400, mode="debate", models=models))["error"]
    assert "exactly 3 models" in error["message"]
    assert (await h.client.get("/v1/sessions", headers=headers)).json()["total"] == 0


async def test_debate_models_from_settings_and_the_pool(h: Harness, sides: Script) -> None:
    headers = await h.headers()
    await h.client.patch("/v1/settings", headers=headers,
                         json={"debate_models": {"pro": D, "con": None, "judge": A}})
    body = await chat(h, headers, MOTION, mode="debate")
    models = body["details"]["models"]
    assert models["pro"] == D and models["judge"] == A and models["con"]


async def test_a_failing_side_shows_its_error_and_the_debate_goes_on(
        h: Harness, script: Script) -> None:
    script.replies = {"pro": speaker("PRO"), "con": fails("con is down"),
                      "judge": Reply('{"winner": "pro", "reasoning": "Con never spoke."}')}
    body = await chat(h, await h.headers(), MOTION, **debate())
    assert len(script.calls("pro")) == 1 + ROUNDS, "Pro still argues every round"
    assert len(script.calls("con")) == 1, "a side that failed is not called again"
    assert "(failed to answer: con is down)" in script.calls("pro")[1].prompt
    judge = script.calls("judge")[0].prompt
    assert "Con, opening (con is down)" in judge and "Judge only what was said" in judge
    con = body["details"]["rounds"][0]["con"]
    assert con["status"] == "failed" and con["error"]["message"] == "con is down"
    assert all("con" not in r for r in body["details"]["rounds"][1:])
    assert "_Failed to answer: con is down_" in body["content"]
    assert body["models_used"] == [A, C]
    assert body["details"]["verdict"]["winner"] == "pro"


async def test_a_side_failing_mid_debate_sits_out_the_later_rounds(
        h: Harness, script: Script) -> None:
    def pro(request: ModelRequest) -> str:
        if "\n\nRound 2" in request.messages[-1].content:
            raise UpstreamError("pro hung")
        return "PRO speaks."
    script.replies = {"pro": Reply(pro), "con": speaker("CON"),
                      "judge": Reply('{"winner": "con", "reasoning": "Pro left."}')}
    body = await chat(h, await h.headers(), MOTION, **debate())
    assert len(script.calls("pro")) == 3, "opening, round 1, the failed round 2; not round 3"
    assert len(script.calls("con")) == 1 + ROUNDS
    rounds = body["details"]["rounds"]
    assert rounds[2]["pro"]["status"] == "failed" and "pro" not in rounds[3]
    assert "Pro, round 2 (pro hung)" in script.calls("judge")[0].prompt


async def test_judge_failure_returns_the_transcript_with_winner_null(
        h: Harness, script: Script) -> None:
    script.replies = {"pro": speaker("PRO"), "con": speaker("CON"),
                      "judge": fails("judge is down")}
    body = await chat(h, await h.headers(), MOTION, **debate())
    verdict = body["details"]["verdict"]
    assert verdict["winner"] is None
    assert verdict["error"] == {"code": "upstream_error", "message": "judge is down"}
    assert "CON speaks (3)." in body["content"] and "The judge failed" in body["content"]
    assert body["models_used"] == [A, B]


@pytest.mark.parametrize(("answer", "winner", "method"), [
    ('```json\n{"winner": "PRO", "reasoning": "x"}\n```', "pro", "embedded_json"),
    ("Verdict follows. {\"winner\": \"draw\", \"reason\": \"even\"}", "draw", "embedded_json"),
    ("**Winner:** Con. Con answered every point.", "con", "text"),
    ("After weighing both, the Pro side wins on evidence.", "pro", "text"),
    ("It is a tie: both were strong.", "draw", "text"),
    ("Both sides made points worth hearing.", None, None),
])
async def test_judges_that_ignore_the_format(h: Harness, script: Script, answer: str,
                                            winner: str | None, method: str | None) -> None:
    script.replies = {"judge": Reply(answer)}
    body = await chat(h, await h.headers(), MOTION, **debate())
    verdict = body["details"]["verdict"]
    assert verdict["winner"] == winner and verdict["method"] == method
    if winner is None:
        assert verdict["error"]["code"] == "unreadable_verdict"
        assert verdict["reasoning"] == answer
        assert C in body["models_used"], "the judge's words are in the answer"


async def test_both_openings_failing_is_an_upstream_error(h: Harness, script: Script) -> None:
    script.replies = {"pro": fails("pro down"), "con": fails("con down")}
    error = (await chat(h, await h.headers(), MOTION, status=502, **debate()))["error"]
    assert error["code"] == "upstream_error" and "pro down" in error["message"]
    assert script.calls("judge") == [] and len(script.records) == 2


async def test_debate_needs_the_pro_tier(h: Harness, script: Script) -> None:
    headers = await h.headers(tier="free")
    error = (await chat(h, headers, MOTION, status=403, **debate()))["error"]
    assert error["code"] == "tier_required"
