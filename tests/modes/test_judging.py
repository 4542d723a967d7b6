"""Reading judges' answers and measuring agreement without a model."""

from __future__ import annotations

import pytest

from chorus.modes import agreement, verdict

LABELS = ["m-a", "m-b", "m-c"]


@pytest.mark.parametrize(("text", "index", "agreeing", "method"), [
    ('{"best": 2, "reason": "r"}', 1, (1,), "json"),
    ('{"best": "3", "agreeing": [1, "3", "Answer 2"], "reason": "r"}', 2, (0, 1, 2), "json"),
    ('{"winner": "m-b"}', 1, (1,), "json"),
    ('{"best": 3.0, "agreeing": [2.0]}', 2, (1, 2), "json"),
    ('Sure!\n```json\n{"choice": "Answer 1", "why": "x"}\n```', 0, (0,), "embedded_json"),
    ('My pick: {"best": 3, "agreeing": [9, 2]} because it is thorough.', 2, (1, 2),
     "embedded_json"),
    ("The best answer is Answer 2.", 1, (1,), "text"),
    ("Answer 3 is clearly the strongest.", 2, (2,), "text"),
    ("best: 1", 0, (0,), "text"),
])
def test_choice_reads_many_forms(text: str, index: int, agreeing: tuple[int, ...],
                                 method: str) -> None:
    found = verdict.choice(text, LABELS)
    assert found is not None
    assert (found.index, found.agreeing, found.method) == (index, agreeing, method)


@pytest.mark.parametrize("text", [
    "", "All three are good.", '{"best": 0}', '{"best": 4}', '{"best": true}', "{not json",
    '{"reason": "no pick"}', "Answer 7 is the best.", "Answer 2 is not the best.",
])
def test_choice_gives_up_rather_than_guess(text: str) -> None:
    assert verdict.choice(text, LABELS) is None


@pytest.mark.parametrize(("text", "winner", "method"), [
    ('{"winner": "pro", "reasoning": "r"}', "pro", "json"),
    ('{"winner": "Con", "reason": "r"}', "con", "json"),
    ('{"winner": "tie", "reasoning": "r"}', "draw", "json"),
    ('Here you go:\n```\n{"winner": "negative", "reasoning": "r"}\n```', "con",
     "embedded_json"),
    ("Winner: PRO\nReasoning: stronger data.", "pro", "text"),
    ('"winner" - "draw"', "draw", "text"),
    ("The con side clearly wins this one.", "con", "text"),
    ("I declare a draw.", "draw", "text"),
])
def test_debate_verdicts(text: str, winner: str, method: str) -> None:
    found = verdict.debate(text)
    assert found is not None and (found.winner, found.method) == (winner, method)


@pytest.mark.parametrize("text", ["", "Both made good points.", '{"winner": null}',
                                  '{"winner": "judge"}'])
def test_debate_verdicts_that_name_no_winner(text: str) -> None:
    assert verdict.debate(text) is None


def test_a_long_answer_full_of_braces_is_read_quickly() -> None:
    text = "{x} " * 20_000 + '{"winner": "pro", "reasoning": "r"}'
    found = verdict.debate(text)
    assert found is not None and found.winner == "pro"


@pytest.mark.parametrize(("a", "b"), [
    ("Paris.", "The capital of France is Paris!"),
    ("1,000", "1000"), ("4.50 dollars", "4.5 dollars"), ("  PARIS ", "paris"),
    ("About 42.", "42"),
])
def test_short_answers_normalise_alike(a: str, b: str) -> None:
    question = "What is the capital of France?"
    assert agreement.normalised(a, question) == agreement.normalised(b, question)


def test_vote_ties_go_to_request_order() -> None:
    found = agreement.vote(["Lyon", "Paris", "Marseille"], "Which city?")
    assert found == agreement.Agreement(0, (0,))
    found = agreement.vote(["Lyon", "Paris", "paris."], "Which city?")
    assert found == agreement.Agreement(1, (1, 2))


def test_most_agreeing_and_levels() -> None:
    texts = ["cats sleep most of the day in warm places",
             "a cat will sleep most of the day, preferably in warm places",
             "stock markets fell sharply on tuesday"]
    found = agreement.most_agreeing(texts)
    assert found.index in (0, 1) and set(found.agreeing) == {0, 1}
    assert [agreement.level(n, 3) for n in (3, 2, 1)] == ["unanimous", "majority", "none"]
    assert agreement.level(2, 4) == "split"


def test_local_union_merges_the_same_point_and_keeps_the_rest() -> None:
    points = agreement.local_union([
        ("m-a", "Water boils at 100 degrees at sea level. Ice floats."),
        ("m-b", "- At sea level, water boils at 100 degrees.\n- Salt lowers the freezing point."),
    ])
    assert [(p.point, p.models) for p in points] == [
        ("Water boils at 100 degrees at sea level.", ["m-a", "m-b"]),
        ("Ice floats.", ["m-a"]), ("Salt lowers the freezing point.", ["m-b"])]
    assert agreement.render(points).splitlines()[0] == \
        "- Water boils at 100 degrees at sea level. [m-a, m-b]"


def test_parse_points_keeps_known_models_only() -> None:
    text = ("Intro line.\n- One. [m-a, m-b]\n* Two [`m-c`, someone]\n1. Three. [m-b].\n"
            "- No brackets here")
    assert [(p.point, p.models) for p in agreement.parse_points(text, LABELS)] == [
        ("One.", ["m-a", "m-b"]), ("Two", ["m-c"]), ("Three.", ["m-b"])]
