"""The smart_chat router: accuracy on its labelled set, cost preference, overrides, windows."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
from pydantic import ValidationError

from chorus.config import ConfigError, ModeDefaults, ProviderConfig, Settings, read_config_file
from chorus.errors import InvalidRequest
from chorus.modes import router, router_features
from chorus.providers.catalog import ModelEntry, build_catalog
from chorus.types import Message
from tests.conftest import Harness, harness_for
from tests.data.router_set import Question, load, paste

GRID = [i / 10 for i in range(11)]


@functools.cache
def analysed() -> list[tuple[Question, router.Analysis]]:
    return [(q, router.analyse(q.text)) for q in load()]


@functools.cache
def simulated_pool() -> tuple[ModelEntry, ...]:
    return tuple(build_catalog(Settings()).models(test=True))


def accuracy(pairs: list[tuple[Question, router.Analysis]]) -> float:
    return sum(a.category == q.category for q, a in pairs) / len(pairs)


def test_the_labelled_set_is_large_varied_and_split() -> None:
    questions = load()
    assert len(questions) >= 300
    assert {q.category for q in questions} == set(router.CATEGORIES)
    assert all(sum(q.category == c for q in questions) >= 25 for c in router.CATEGORIES)
    assert 0.3 < sum(q.hard for q in questions) / len(questions) < 0.6
    assert len({q.text for q in questions}) == len(questions)
    held_out = [q for q in questions if q.held_out]
    assert 0.25 <= len(held_out) / len(questions) <= 0.4
    assert {q.category for q in held_out} == set(router.CATEGORIES)
    assert sum(q.fresh for q in questions) >= 40 and all(q.held_out for q in questions if q.fresh)


def test_category_accuracy_overall_and_on_the_held_out_split() -> None:
    pairs = analysed()
    assert accuracy(pairs) >= 0.92
    assert accuracy([p for p in pairs if p[0].held_out]) >= 0.84
    assert accuracy([p for p in pairs if p[0].fresh]) >= 0.80


@pytest.mark.parametrize("text", ["Hi", "hello", "Thanks!", "hey there", "Thank you so much!",
                                  "hi :)", "ok"])
def test_greetings_and_thanks_are_not_multilingual(text: str) -> None:
    assert router.analyse(text).category != "multilingual"


@pytest.mark.parametrize("text", ["Hi", "hello", "Thanks!", "hey there", "Thank you so much!",
                                  "ok"])
def test_greetings_and_thanks_are_small_talk(text: str) -> None:
    """No sign of a topic at all: a quick exchange, not maths or code."""
    assert router.analyse(text).category == "facts"


@pytest.mark.parametrize("text", ["Bonjour, comment ça va ?", "Hola, ¿qué tal?", "Привет!",
                                  "你好", "Translate 'thank you' into Japanese"])
def test_greetings_in_other_languages_still_are(text: str) -> None:
    assert router.analyse(text).category == "multilingual"


LAW = ("A landowner leased a warehouse to a tenant for five years. The lease said nothing about "
       "repairs. In the third year a storm damaged the roof, and the tenant, after notifying the "
       "landowner who refused to act, repaired it and deducted the cost from the rent. The "
       "landowner sued for the unpaid rent. Which of the following is the landowner's strongest "
       "argument?\nA. The tenant had no right to deduct repair costs absent a covenant to "
       "repair.\nB. The damage was caused by an act of God, excusing both parties.\nC. The "
       "tenant waived the claim by continuing to occupy the premises.\nD. The lease was "
       "terminated by the destruction of the premises.\nAnswer:")


def test_difficulty_is_a_probability_and_the_reason_says_it_in_words() -> None:
    short = router.analyse("What's the capital of Portugal?")
    long = router.analyse(LAW)
    assert 0 < short.difficulty < long.difficulty < 1
    reason = router.route(long, simulated_pool(), 0.5).reason
    assert f"an estimated {long.difficulty:.0%} chance that a small, cheap model gets it " \
           f"wrong" in reason
    assert router.hardness(0.1).startswith("easy") and router.hardness(0.6).startswith("hard")


def test_the_shipped_difficulty_is_what_the_fitting_code_computes() -> None:
    """The pure-Python run-time and the numpy fit agree on the features and the weights."""
    fit_router = pytest.importorskip("bench.fit_router")
    texts = [q.text for q in load()[::20]] + [LAW, "Hi"]
    model, x = fit_router.read_model(), fit_router.feature_matrix(texts)
    expected = fit_router.probability(model, x)
    assert [router.difficulty(t) for t in texts] == pytest.approx(expected.tolist(), abs=1e-9)
    routing = fit_router.routing_difficulty(model, x, fit_router.lengths(texts))
    assert [router.routing_difficulty(t) for t in texts] == pytest.approx(routing.tolist(),
                                                                          abs=1e-9)


def test_one_pass_counts_the_tokens_exactly_and_reads_rare_words_as_rare() -> None:
    """analyse encodes a question once: the stem and the options apart, split at a line start,
    which is what encoding it whole gives; a long text is still counted whole."""
    for text in [LAW, "Hi", "x\n\n  y", "a" * 2500, *(q.text for q in load()[::15])]:
        assert router_features.read(text).tokens == router_features.estimate_tokens(text)
    rank = router_features.DIFFICULTY_FEATURES.index("rank")
    rare = router_features.DIFFICULTY_FEATURES.index("rare_tokens")
    common = router_features.difficulty_features("What is the name of the big house in town?")
    unusual = router_features.difficulty_features(
        "What is the eponym of membranoproliferative glomerulonephritis?")
    assert unusual[rank] > common[rank] and unusual[rare] > common[rare]


def test_the_router_acts_on_the_routing_difficulty_and_shows_the_probability() -> None:
    """Who answers follows where a strong model gains most; details show P(weak wrong)."""
    pool = simulated_pool()
    base = router.analyse("What's the capital of Portugal?")
    shown = 0.3
    low = dataclasses.replace(base, difficulty=shown, routing=0.1)
    high = dataclasses.replace(base, difficulty=shown, routing=0.9)
    cheap, strong = router.route(low, pool, 0.5), router.route(high, pool, 0.5)
    assert cheap.candidates[0].entry.blended_price < strong.candidates[0].entry.blended_price
    assert cheap.analysis.difficulty == strong.analysis.difficulty == shown
    assert "an estimated 30% chance" in strong.reason and "routed as a 90% one" in strong.reason


@pytest.mark.parametrize(("question", "history"), [
    ("Prove that there are infinitely many primes.", ()),
    ("and now in Rust?", (Message("user", "Write a Python function that parses ISO dates"),
                          Message("assistant", "def parse(text): ..."))),
])
def test_without_routing_the_same_reading_and_no_routing_difficulty(
        question: str, history: tuple[Message, ...]) -> None:
    """A named model's details: what routing would show, without what only routing uses."""
    full = router.analyse(question, history)
    named = router.analyse(question, history, routing=False)
    assert named.routing != named.routing  # NaN
    assert dataclasses.replace(named, routing=full.routing) == full


def test_percentile_and_quantile_are_inverse_and_bounded() -> None:
    edges = [0.0, 1.0, 1.0, 3.0, 7.0]
    assert router_features.percentile(edges, -5.0) == 0.0
    assert router_features.percentile(edges, 9.0) == 1.0
    assert router_features.percentile(edges, 2.0) == pytest.approx(0.625)
    assert router_features.percentile(edges, 1.0) == pytest.approx(0.5)  # after the tie
    for rank in (0.0, 0.3, 0.625, 0.8, 1.0):
        value = router_features.quantile(edges, rank)
        if rank not in (0.3,):  # 0.3 falls inside the tie at 1.0
            assert router_features.percentile(edges, value) == pytest.approx(rank)
    fit_router = pytest.importorskip("bench.fit_router")
    np = pytest.importorskip("numpy")
    values = np.array([-5.0, 0.0, 0.5, 1.0, 2.0, 5.0, 7.0, 9.0])
    assert fit_router.percentile(edges, values).tolist() == pytest.approx(
        [router_features.percentile(edges, float(v)) for v in values])


def test_apgr_by_hand() -> None:
    fit_router = pytest.importorskip("bench.fit_router")
    np = pytest.importorskip("numpy")
    weak, strong = np.array([0, 1, 1, 0]), np.array([1, 1, 1, 0])  # gap 0.25: only q0 gains
    # Cumulative gain over k = 0..4 is 0,1,1,1,1 with q0 first: mean 0.8 / (n * gap) = 0.8.
    assert fit_router.apgr(np.array([0.9, 0.1, 0.2, 0.3]), weak, strong) == pytest.approx(0.8)
    assert fit_router.apgr(np.array([0.0, 0.1, 0.2, 0.3]), weak, strong) == pytest.approx(0.2)
    # One tie: a straight line, as random ordering gives on average.
    assert fit_router.apgr(np.zeros(4), weak, strong) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        fit_router.apgr(np.zeros(2), np.array([1, 0]), np.array([0, 1]))


def test_subject_folds_keep_a_subject_together_and_the_fit_finds_a_planted_signal() -> None:
    fit_router = pytest.importorskip("bench.fit_router")
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    n = 1600
    subjects = [f"s{i % 8}" for i in range(n)]
    folds = fit_router.subject_folds(subjects, 4, seed=1)
    assert all(len({f for s, f in zip(subjects, folds, strict=True) if s == name}) == 1
               for name in set(subjects))
    assert len(set(folds.tolist())) == 4
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.normal(size=n)])
    wrong = rng.random(n) < 1 / (1 + np.exp(-(2 * x[:, 1] - 1)))
    strong = np.where(wrong, rng.random(n) < 0.7, 1).astype(np.int64)
    prompts = ["x" * int(k) for k in rng.integers(10, 500, size=n)]  # length carries nothing
    data = fit_router.Outcomes(subjects, prompts, (~wrong).astype(np.int64), strong)
    model = fit_router.fit(data, x)
    assert model.weights[1] > 1 and abs(model.weights[2]) < 0.3
    # the strong model fails 30 % of what the weak one fails: the gain grows with x1 too
    assert model.strong[1] > 0.5 and abs(model.strong[2]) < 0.3
    assert np.corrcoef(fit_router.gain(model, x), x[:, 1])[0, 1] > 0.9
    p = fit_router.probability(model, x)
    assert abs(p.mean() - wrong.mean()) < 0.02
    high = p > 0.5
    assert abs(p[high].mean() - wrong[high].mean()) < 0.05


def test_the_gain_model_leaves_out_subjects_where_the_strong_model_is_below_chance() -> None:
    fit_router = pytest.importorskip("bench.fit_router")
    np = pytest.importorskip("numpy")
    subjects = ["a"] * 4 + ["b"] * 4
    strong = np.array([1, 1, 0, 1, 0, 0, 0, 1])  # b: 1 in 4 is chance, kept; below is not
    data = fit_router.Outcomes(subjects, [""] * 8, np.zeros(8, dtype=np.int64), strong)
    assert fit_router.trusted(data).all()
    data = fit_router.Outcomes(subjects, [""] * 8, np.zeros(8, dtype=np.int64),
                               np.array([1, 1, 0, 1, 0, 0, 0, 0]))
    assert fit_router.trusted(data).tolist() == [True] * 4 + [False] * 4


def test_every_long_input_is_long_and_nothing_short_is() -> None:
    for q, a in analysed():
        assert (a.category == "long") == (q.category == "long"), q.id


def test_cost_preference_never_raises_the_price_as_it_grows() -> None:
    pool = simulated_pool()
    for q, analysis in analysed():
        prices = [router.route(analysis, pool, c).candidates[0].entry.blended_price
                  for c in GRID]
        assert prices == sorted(prices, reverse=True), q.id


def test_zero_is_the_strongest_and_one_the_cheapest_that_can_do_it() -> None:
    pool = simulated_pool()
    for q, analysis in analysed()[::7]:
        best = router.route(analysis, pool, 0.0).candidates
        assert best[0].skill == max(c.skill for c in best), q.id
        cheap = router.route(analysis, pool, 1.0).candidates
        capable = [c for c in cheap if c.capable]
        if capable:
            assert cheap[0].entry.blended_price == min(c.entry.blended_price for c in capable)
            assert cheap[0].capable, q.id
        else:
            assert cheap[0].success == max(c.success for c in cheap), q.id


def test_easy_questions_go_cheap_and_hard_ones_strong_by_default() -> None:
    pool = simulated_pool()
    easy = router.route(router.analyse("What's the capital of Portugal?"), pool, 0.5)
    hard = router.route(router.analyse(LAW), pool, 0.5)
    assert easy.analysis.difficulty < router.EASY_BELOW < hard.analysis.difficulty
    assert easy.candidates[0].entry.blended_price < 1.0
    assert hard.candidates[0].entry.quality >= 0.85


def entry(id: str, window: int, price: float, quality: float,
          strengths: str = "facts code long") -> ModelEntry:
    provider = ProviderConfig(name="p", base_url="http://127.0.0.1:1/v1")
    return ModelEntry(id, provider, id, window, price, price * 4, frozenset(strengths.split()),
                      quality, 80.0)


def test_a_long_input_goes_to_a_model_whose_window_holds_it() -> None:
    small_and_good = entry("small", 8_192, 0.1, 0.95)
    big = entry("big", 200_000, 3.0, 0.80)
    text = "Summarise the key decisions.\n\n" + paste("transcript", 20_000, "w")
    analysis = router.analyse(text)
    assert analysis.tokens > 8_192 and analysis.category == "long"
    for preference in (0.0, 0.5, 1.0):
        decision = router.route(analysis, [small_and_good, big], preference)
        assert decision.model == "big"
        assert "1 model(s) left out" in decision.reason and "context window" in decision.reason
    short = router.route(router.analyse("Who wrote Dracula?"), [small_and_good, big], 1.0)
    assert short.model == "small"


def test_the_window_keeps_room_for_the_answer() -> None:
    """4,096 tokens (or max_tokens) stay free, as chorus.context budgets them."""
    analysis = router.analyse("Summarise this log.\n\n" + paste("log", 5_000, "r"))
    tight = entry("tight", analysis.tokens + 1_000, 0.1, 0.95)
    roomy = entry("roomy", analysis.tokens * 3, 3.0, 0.80)
    assert router.route(analysis, [tight, roomy], 1.0).model == "roomy"
    assert router.route(analysis, [tight, roomy], 1.0, max_tokens=10).model == "tight"


def test_when_no_window_holds_it_all_the_widest_is_used_and_the_reason_says_so() -> None:
    small, wider = entry("small", 8_192, 0.1, 0.95), entry("wider", 16_384, 3.0, 0.7)
    decision = router.route(router.analyse(paste("log", 20_000, "x")), [small, wider], 0.0)
    assert decision.model == "wider" and "will be shortened" in decision.reason
    history = tuple(Message("user", paste("article", 3_000, str(i))) for i in range(7))
    analysis = router.analyse("What did we decide about the budget?", history)
    assert analysis.question_tokens < 100 < 16_384 < analysis.tokens
    decision = router.route(analysis, [small, wider], 0.0)
    assert decision.model == "small" and "summarised" in decision.reason


def test_no_model_at_all_is_a_clear_400() -> None:
    with pytest.raises(InvalidRequest, match="no model") as caught:
        router.route(router.analyse("hi"), [], 0.5)
    assert caught.value.status == 400


def test_history_counts_toward_the_window_and_follow_ups_keep_the_topic() -> None:
    history = (Message("user", "Write a Python function that parses ISO dates with time "
                               "zones and test it with pytest"),
               Message("assistant", "def parse(text): ...\n" * 3000))
    follow_up = router.analyse("and now in Rust?", history)
    assert follow_up.category in ("code", "long")
    assert follow_up.tokens > follow_up.question_tokens + 5000
    assert router.analyse("and now in Rust?", history[:1]).category == "code"


def test_the_routing_settings_in_the_toml_are_validated(tmp_path: Path) -> None:
    assert ModeDefaults().cost_preference == 0.5
    with pytest.raises(ValidationError):
        ModeDefaults(cost_preference=1.5)
    path = tmp_path / "chorus.toml"
    model = ('[[providers]]\nname = "p"\nbase_url = "http://127.0.0.1:1/v1"\n[[models]]\n'
             'id = "m"\nprovider = "p"\nstrengths = ["code", "{strength}"]\nquality = 0.7\n'
             '[defaults]\ncost_preference = 0.25\n')
    path.write_text(model.format(strength="math"))
    file = read_config_file(path)
    assert file.defaults.cost_preference == 0.25 and file.models[0].strengths == ["code", "math"]
    path.write_text(model.format(strength="maths"))
    with pytest.raises(ConfigError, match="strengths"):
        read_config_file(path)


# ---- through POST /v1/chat with a sk_test_ key (the simulated catalog) ---------------------


async def chat(h: Harness, headers: dict[str, str], message: str, **extra: object) -> dict:
    response = await h.client.post("/v1/chat", headers=headers,
                                   json={"message": message, **extra})
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


async def test_details_say_which_model_what_category_how_hard_and_why(harness: Harness) -> None:
    headers = await harness.headers()
    body = await chat(harness, headers, "Write a Python function that merges two sorted "
                                        "lists in linear time, with tests.")
    details = body["details"]
    # `tools` says whether web search was on (docs/conversations.md)
    assert set(details) == {"routed_to", "category", "difficulty", "reason", "tools"}
    assert body["models_used"] == [details["routed_to"]]
    assert details["category"] == "code"
    assert 0 <= details["difficulty"] <= 1
    assert details["routed_to"] in details["reason"] and "cost preference 0.50" in details["reason"]


async def test_explicit_model_and_the_users_default_model_win(harness: Harness) -> None:
    headers = await harness.headers()
    question = "Prove that there are infinitely many primes."
    routed = (await chat(harness, headers, question, cost_preference=0))["details"]
    assert routed["routed_to"] == "claude-opus-4-1-20250805"
    explicit = (await chat(harness, headers, question, model="gpt-4o-mini"))["details"]
    assert explicit["routed_to"] == "gpt-4o-mini" and "request names" in explicit["reason"]
    assert explicit["category"] == "math"
    response = await harness.client.patch("/v1/settings", headers=headers,
                                          json={"default_model": "gemini-2.5-flash"})
    assert response.status_code == 200, response.text
    default = (await chat(harness, headers, question, cost_preference=0))["details"]
    assert default["routed_to"] == "gemini-2.5-flash" and "default model" in default["reason"]
    again = (await chat(harness, headers, question, model="gpt-4o"))["details"]
    assert again["routed_to"] == "gpt-4o"


async def test_the_users_cost_preference_is_the_default_and_the_request_overrides_it(
        harness: Harness) -> None:
    headers = await harness.headers()
    question = "What is the capital of Kenya?"
    response = await harness.client.patch("/v1/settings", headers=headers,
                                          json={"cost_preference": 1})
    assert response.status_code == 200, response.text
    cheap = (await chat(harness, headers, question))["details"]
    assert cheap["routed_to"] in ("gemini-2.5-flash-lite", "gemini-2.0-flash")  # the cheapest
    assert "cost preference 1.00" in cheap["reason"]
    best = (await chat(harness, headers, question, cost_preference=0))["details"]
    assert best["routed_to"] == "claude-opus-4-1-20250805"


@pytest.mark.parametrize("value", [1.5, -0.1, "cheap"])
async def test_a_bad_cost_preference_is_a_400(harness: Harness, value: object) -> None:
    headers = await harness.headers()
    response = await harness.client.post("/v1/chat", headers=headers,
                                          json={"message": "hi", "cost_preference": value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "cost_preference" in error["message"]


async def test_an_unknown_explicit_model_is_a_400(harness: Harness) -> None:
    headers = await harness.headers()
    response = await harness.client.post("/v1/chat", headers=headers,
                                          json={"message": "hi", "model": "no-such-model"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


async def test_with_no_model_to_route_to_nothing_is_stored(tmp_path: Path) -> None:
    no_providers = {name: None for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY",
                                            "GEMINI_API_KEY", "OLLAMA_BASE_URL")}
    async with harness_for(f"sqlite:///{tmp_path}/r.db", **no_providers) as h:
        headers = await h.headers(test=False)
        response = await h.client.post("/v1/chat", headers=headers, json={"message": "hi"})
        assert response.status_code == 400
        assert "no model is configured" in response.json()["error"]["message"]
        listed = await h.client.get("/v1/sessions", headers=headers)
        assert listed.json()["data"] == []
