"""Tiers, rate limits and quotas with the in-process limiter: the policy and the HTTP surface."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chorus import limits
from chorus.auth import Principal
from chorus.config import (
    ConfigError,
    FileConfig,
    Settings,
    TestKeyLimits,
    default_tiers,
    read_config_file,
)
from chorus.errors import TierRequired
from chorus.limits.local import LocalLimiter
from chorus.store.users import KeyRow, UserRow
from tests.conftest import harness_for

LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def file_config(**tiers: dict[str, Any]) -> FileConfig:
    """The default tiers with some values changed, and test-key caps off unless given."""
    caps = tiers.pop("test_keys", {"requests_per_minute": None, "queries_per_period": None})
    merged = default_tiers()
    for name, values in tiers.items():
        merged[name] = merged[name].model_copy(update=values)
    return FileConfig(tiers=merged, test_keys=TestKeyLimits(**caps))


@pytest.fixture
async def app_with(tmp_path: Path) -> AsyncIterator[Any]:
    """Start the app with a given FileConfig: `async with app_with(config) as h`."""
    def start(config: FileConfig) -> Any:
        return harness_for(f"sqlite:///{tmp_path}/limits.db", file=config)
    yield start


# --- the in-process limiter ---------------------------------------------------------------

async def test_local_window_counts_to_the_limit_then_refuses_until_it_ends() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    windows = [await limiter.hit("key_a", 3) for _ in range(5)]
    assert [w.allowed for w in windows] == [True, True, True, False, False]
    assert [w.remaining for w in windows] == [2, 1, 0, 0, 0]
    assert {w.reset for w in windows} == {1_000_060}
    assert (await limiter.hit("key_b", 3)).remaining == 2  # keys are counted apart
    assert await limiter.peek("key_a", 3) == (3, 0, 1_000_060)
    clock.now += 59.9
    assert not (await limiter.hit("key_a", 3)).allowed
    clock.now += 0.1
    fresh = await limiter.hit("key_a", 3)
    assert fresh.allowed and fresh.remaining == 2 and fresh.reset == 1_000_120


async def test_local_peek_does_not_count() -> None:
    clock = Clock()
    limiter = LocalLimiter(clock=clock)
    assert await limiter.peek("key_a", 5) == (5, 5, 1_000_060)
    await limiter.hit("key_a", 5)
    for _ in range(3):
        assert await limiter.peek("key_a", 5) == (5, 4, 1_000_060)


async def test_local_quota_takes_refuses_and_gives_back() -> None:
    limiter = LocalLimiter()
    period = limits.Period.containing(datetime(2026, 11, 5, tzinfo=UTC))
    takes = [await limiter.take_query("usr_a", 2, period) for _ in range(3)]
    assert [(t.allowed, t.used) for t in takes] == [(True, 1), (True, 2), (False, 2)]
    await limiter.return_query("usr_a", period)
    assert await limiter.queries_used("usr_a", period) == 1
    assert (await limiter.take_query("usr_a", 2, period)).allowed
    following = limits.Period.containing(datetime(2026, 12, 1, tzinfo=UTC))
    assert (await limiter.take_query("usr_a", 2, following)).used == 1
    assert await limiter.queries_used("usr_a", period) == 0  # an old period is forgotten
    await limiter.return_query("usr_b", following)
    assert await limiter.queries_used("usr_b", following) == 0


def test_a_period_is_a_calendar_month_in_utc() -> None:
    november = limits.Period.containing(datetime(2026, 11, 30, 23, 59, tzinfo=UTC))
    assert november.key == "2026-11"
    assert november.start == datetime(2026, 11, 1, tzinfo=UTC)
    assert november.end == datetime(2026, 12, 1, tzinfo=UTC)
    december = limits.Period.containing(datetime(2026, 12, 31, tzinfo=UTC))
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC) and december.key == "2026-12"
    assert limits.seconds_until(100.2, now=99.0) == 2 and limits.seconds_until(5, now=9) == 1


# --- tiers --------------------------------------------------------------------------------

def test_default_tiers_keep_the_documented_facts() -> None:
    tiers = default_tiers()
    assert set(tiers) == {"free", "pro", "power", "enterprise"}
    assert "ensemble" not in tiers["free"].modes and "debate" not in tiers["free"].modes
    assert {"ensemble", "debate"} <= set(tiers["pro"].modes)
    assert "council" not in tiers["pro"].modes and "council" in tiers["power"].modes
    assert not tiers["free"].custom_personas and tiers["pro"].custom_personas
    assert tiers["power"].requests_per_minute == 60
    assert tiers["power"].queries_per_period is None
    caps = TestKeyLimits()  # test keys are for trying things and CI: the power tier's pace
    assert caps.requests_per_minute == tiers["power"].requests_per_minute == 60
    assert caps.queries_per_period == 1000
    assert [tiers[t].max_keys for t in ("free", "pro", "power", "enterprise")] == [5, 10, 20, 100]


def test_every_limit_is_configurable_in_the_toml(tmp_path: Path) -> None:
    path = tmp_path / "chorus.toml"
    path.write_text('[tiers.free]\nmodes = ["smart_chat", "council"]\n'
                    '[tiers.power]\nrequests_per_minute = 5\nqueries_per_period = 7\n'
                    '[tiers.team]\nmodes = ["smart_chat"]\nrequests_per_minute = 2\n'
                    'queries_per_period = 3\ncustom_personas = true\n'
                    '[tiers.enterprise]\nrequests_per_minute = "unlimited"\nmax_keys = 3\n'
                    '[test_keys]\nrequests_per_minute = 4\nqueries_per_period = "unlimited"\n')
    config = read_config_file(path)
    assert config.tiers["free"].modes == ["smart_chat", "council"]
    assert config.tiers["free"].requests_per_minute == 10  # the rest keeps its default
    assert (config.tiers["power"].requests_per_minute, config.tiers["power"].queries_per_period
            ) == (5, 7)
    assert config.tiers["team"].custom_personas
    assert config.tiers["enterprise"].requests_per_minute is None
    assert config.tiers["enterprise"].max_keys == 3 and config.tiers["team"].max_keys == 10
    assert config.test_keys.requests_per_minute == 4
    assert config.test_keys.queries_per_period is None
    bad = tmp_path / "bad.toml"
    for text in ('[tiers.free]\nrequests_per_minute = 0\n', '[test_keys]\nspeed = 1\n',
                 '[tiers.free]\nqueries_per_period = "lots"\n', '[tiers.new]\nmodes = []\n',
                 'tiers = {free = 3}\n'):
        bad.write_text(text)
        with pytest.raises(ConfigError):
            read_config_file(bad)


async def test_mode_outside_the_tier_is_403_tier_required(app_with: Any) -> None:
    async with app_with(file_config()) as h:
        free = await h.headers(tier="free")
        for mode in ("ensemble", "debate", "council"):
            response = await h.client.post("/v1/chat", headers=free,
                                           json={"message": "hi", "mode": mode})
            assert response.status_code == 403, mode
            assert response.json()["error"] == {
                "code": "tier_required", "status": 403,
                "message": f"the {mode} mode is not part of the free tier"}
        pro = await h.headers(tier="pro")
        council = await h.client.post("/v1/chat", headers=pro,
                                      json={"message": "hi", "mode": "council"})
        assert council.json()["error"]["code"] == "tier_required"
        listing = (await h.client.get("/v1/sessions", headers=free)).json()
        assert listing["total"] == 0  # a refused turn stores nothing


async def test_an_operator_can_open_a_mode_to_a_tier(app_with: Any) -> None:
    async with app_with(file_config(free={"modes": ["smart_chat", "debate"]})) as h:
        response = await h.client.post("/v1/chat", headers=await h.headers(tier="free"),
                                       json={"message": "hi", "mode": "debate"})
        assert response.status_code != 403, response.text


async def test_a_tier_the_server_does_not_know_is_refused(app_with: Any) -> None:
    async with app_with(file_config()) as h:
        response = await h.client.get("/v1/sessions", headers=await h.headers(tier="gold"))
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "tier_required"
        assert "gold" in response.json()["error"]["message"]


def principal(tier: str, test: bool = False) -> Principal:
    now = datetime(2026, 1, 1)
    return Principal(UserRow("usr_1", "ann", tier, {}, now),
                     KeyRow("key_1", "usr_1", "k", "sk_", "0" * 64, test, now, None, None))


def test_custom_personas_need_a_tier_that_allows_them() -> None:
    settings = Settings(file=file_config())
    limits.check_custom_personas(settings, principal("pro"))
    with pytest.raises(TierRequired):
        limits.check_custom_personas(settings, principal("free"))


def test_test_keys_get_the_lower_of_their_tier_and_the_test_caps() -> None:
    settings = Settings(file=file_config(
        test_keys={"requests_per_minute": 20, "queries_per_period": 100}))
    power_test = limits.allowance(settings, principal("power", test=True))
    assert (power_test.requests_per_minute, power_test.queries_per_period) == (20, 100)
    free_test = limits.allowance(settings, principal("free", test=True))
    assert (free_test.requests_per_minute, free_test.queries_per_period) == (10, 100)
    power_live = limits.allowance(settings, principal("power"))
    assert (power_live.requests_per_minute, power_live.queries_per_period) == (60, None)
    assert limits.quota_bucket(principal("power", test=True)) == "usr_1:test"
    assert limits.quota_bucket(principal("power")) == "usr_1"


# --- over HTTP ----------------------------------------------------------------------------

async def test_every_authenticated_answer_carries_the_limit_headers(app_with: Any) -> None:
    async with app_with(file_config()) as h:
        headers = await h.headers(tier="free")  # 10 requests a minute
        client = h.client
        answers = [
            await client.get("/v1/sessions", headers=headers),
            await client.post("/v1/chat", headers=headers, json={"message": "hi"}),
            await client.post("/v1/chat", headers=headers,
                              json={"message": "hi", "stream": True}),
            await client.get("/v1/sessions/sess_missing", headers=headers),
            await client.post("/v1/chat", headers={**headers, "content-type": "application/json"},
                              content=b"{not json"),
            await client.post("/v1/chat", headers=headers, json={"message": 5}),
            await client.post("/v1/chat", headers=headers, json={"message": "hi",
                                                                 "mode": "council"}),
            await client.post("/v1/chat", headers=headers, content=b"x" * 1_000_001),
            await client.get("/v1/no-such-route", headers=headers),
        ]
        assert [a.status_code for a in answers] == [200, 200, 200, 404, 400, 400, 403, 413, 404]
        assert answers[2].headers["content-type"].startswith("text/event-stream")
        for number, answer in enumerate(answers, start=1):
            assert answer.headers["x-ratelimit-limit"] == "10"
            assert answer.headers["x-ratelimit-remaining"] == str(10 - number)
        resets = {int(a.headers["x-ratelimit-reset"]) for a in answers}
        assert len(resets) == 1 and 0 < resets.pop() - datetime.now(UTC).timestamp() <= 61
        unauthenticated = await client.get("/v1/sessions")
        assert unauthenticated.status_code == 401
        assert not set(LIMIT_HEADERS) & set(unauthenticated.headers)


async def test_past_the_limit_is_429_with_retry_after(app_with: Any) -> None:
    async with app_with(file_config(power={"requests_per_minute": 3})) as h:
        headers = await h.headers(tier="power", test=False)
        statuses = [(await h.client.get("/v1/models", headers=headers)).status_code
                    for _ in range(3)]
        refused = await h.client.get("/v1/sessions", headers=headers)
        assert statuses == [200, 200, 200] and refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.json()["error"]["status"] == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.headers["x-ratelimit-limit"] == "3"
        openai = await h.client.post("/v1/chat/completions", headers=headers, json={})
        assert openai.status_code == 429
        assert openai.json()["error"]["type"] == "rate_limit_error"
        other = await h.headers(tier="power", test=False)  # another user: their own window
        assert (await h.client.get("/v1/models", headers=other)).status_code == 200
        peeked = await h.services.limiter.peek(
            limits.rate_bucket(await h.services.auth.resolve(headers["authorization"])), 3)
        assert peeked[:2] == (3, 0)


async def test_the_per_minute_limit_is_the_users_whatever_keys_they_mint(app_with: Any
                                                                           ) -> None:
    async with app_with(file_config()) as h:  # free: 10 requests a minute
        first = await h.headers(user="minter", tier="free", test=False)
        minted = [first]
        for i in range(4):
            made = await h.client.post("/v1/keys", headers=first, json={"name": f"k{i}"})
            assert made.status_code == 201, made.text
            minted.append({"authorization": f"Bearer {made.json()['secret']}"})
        # minting 4 keys took 4 of the user's 10 requests; of 50 more over 5 keys, 6 pass
        answers = await asyncio.gather(*(h.client.get("/v1/models", headers=minted[i % 5])
                                         for i in range(50)))
        assert sum(a.status_code == 200 for a in answers) == 6
        assert {a.status_code for a in answers} == {200, 429}
        assert {a.headers["x-ratelimit-limit"] for a in answers} == {"10"}
        usage = await h.client.get("/v1/usage", headers=minted[3])  # refused too: it is over
        assert usage.status_code == 429
        test_key = await h.headers(user="minter", tier="free", test=True)
        assert (await h.client.get("/v1/models", headers=test_key)).status_code == 200
        other = await h.headers(tier="free", test=False)  # another user: a window of their own
        assert (await h.client.get("/v1/models", headers=other)).status_code == 200


async def test_test_keys_by_default_run_a_40_prompt_batch_at_once(tmp_path: Path) -> None:
    async with harness_for(f"sqlite:///{tmp_path}/batch.db", file=FileConfig()) as h:
        headers = await h.headers(tier="power", test=True)
        answers = await asyncio.gather(*(h.client.post("/v1/chat", headers=headers, json={
            "message": f"prompt {i}"}) for i in range(40)))
        assert [a.status_code for a in answers] == [200] * 40
        assert answers[0].headers["x-ratelimit-limit"] == "60"


async def test_quota_counts_chat_queries_and_then_refuses(app_with: Any) -> None:
    async with app_with(file_config(pro={"queries_per_period": 2})) as h:
        user = "quota-user"
        headers = await h.headers(user=user, tier="pro")
        second_key = await h.headers(user=user, tier="pro")  # the quota is the user's
        chat = {"message": "hello"}
        assert (await h.client.post("/v1/chat", headers=headers, json=chat)).status_code == 200
        refused = await h.client.post("/v1/chat", headers=headers,
                                      json={"message": "hi", "mode": "council"})
        assert refused.status_code == 403  # a refused query is not counted
        assert (await h.client.post("/v1/chat", headers=headers, json={"x": 1})).status_code == 400
        for _ in range(3):  # nor are other requests
            assert (await h.client.get("/v1/sessions", headers=headers)).status_code == 200
        ok = await h.client.post("/v1/chat", headers=second_key,
                                 json={"message": "hi", "stream": True})
        assert ok.status_code == 200
        over = await h.client.post("/v1/chat", headers=headers, json=chat)
        assert over.status_code == 429, over.text
        error = over.json()["error"]
        assert error["code"] == "quota_exceeded" and error["status"] == 429
        assert "2 queries" in error["message"] and "pro" in error["message"]
        assert int(over.headers["retry-after"]) >= 1 and "x-ratelimit-limit" in over.headers
        completions = await h.client.post("/v1/chat/completions", headers=headers, json={})
        assert completions.json()["error"]["code"] == "quota_exceeded"
        assert completions.json()["error"]["type"] == "rate_limit_error"
        assert (await h.client.get("/v1/sessions", headers=headers)).status_code == 200
        live_key = await h.headers(user=user, tier="pro", test=False)
        live = await h.client.post("/v1/chat", headers=live_key, json=chat)
        assert live.status_code != 429  # live queries are counted apart from test ones
        caller = await h.services.auth.resolve(headers["authorization"])
        used = await h.services.limiter.queries_used(limits.quota_bucket(caller),
                                                     limits.Period.current())
        assert used == 2


async def test_a_restart_keeps_counting_the_months_queries(database_url: str) -> None:
    """Without Redis, counts live in the process; a new one starts from the usage records."""
    config = file_config(pro={"queries_per_period": 3})
    chat = {"message": "hello"}
    async with harness_for(database_url, file=config) as h:
        headers = await h.headers(user="steady", tier="pro")
        for _ in range(2):
            assert (await h.client.post("/v1/chat", headers=headers, json=chat)).status_code == 200
        refused = await h.client.post("/v1/chat", headers=headers,
                                      json={"message": "hi", "mode": "council"})
        assert refused.status_code == 403
        other = await h.headers(user="other", tier="pro")
        assert (await h.client.post("/v1/chat", headers=other, json=chat)).status_code == 200
    async with harness_for(database_url, file=config) as h:  # the same database, restarted
        headers = await h.headers(user="steady", tier="pro")
        usage = (await h.client.get("/v1/usage", headers=headers)).json()
        assert usage["queries"]["used"] == 2
        answers = await asyncio.gather(*(h.client.post("/v1/chat", headers=headers, json=chat)
                                         for _ in range(3)))  # racing the first read
        assert sorted(a.status_code for a in answers) == [200, 429, 429]
        assert [a.json()["error"]["code"] for a in answers if a.status_code == 429] == [
            "quota_exceeded"] * 2
        live = await h.headers(user="steady", tier="pro", test=False)
        caller = await h.services.auth.resolve(live["authorization"])
        used = await h.services.limiter.queries_used(limits.quota_bucket(caller),
                                                     limits.Period.current())
        assert used == 0  # live keys' queries are a bucket of their own


async def test_test_keys_have_their_own_lower_limits(app_with: Any) -> None:
    config = file_config(test_keys={"requests_per_minute": 2, "queries_per_period": 1})
    async with app_with(config) as h:
        user = "tester"
        test_key = await h.headers(user=user, tier="power", test=True)
        live_key = await h.headers(user=user, tier="power", test=False)
        first = await h.client.get("/v1/models", headers=test_key)
        assert first.headers["x-ratelimit-limit"] == "2"
        assert (await h.client.post("/v1/chat", headers=test_key,
                                    json={"message": "hi"})).status_code == 200
        third = await h.client.get("/v1/models", headers=test_key)
        assert third.status_code == 429
        assert third.json()["error"]["code"] == "rate_limit_exceeded"
        live = await h.client.get("/v1/models", headers=live_key)
        assert live.status_code == 200 and live.headers["x-ratelimit-limit"] == "60"
        other_test_key = await h.headers(user=user, tier="power", test=True)
        over = await h.client.post("/v1/chat", headers=other_test_key, json={"message": "hi"})
        assert over.status_code == 429  # the window is the user's test keys', all together
        assert over.json()["error"]["code"] == "rate_limit_exceeded"
        caller = await h.services.auth.resolve(other_test_key["authorization"])
        assert await h.services.limiter.queries_used(
            limits.quota_bucket(caller), limits.Period.current()) == 1  # so is the quota


async def test_an_unlimited_tier_sends_no_rate_headers(app_with: Any) -> None:
    async with app_with(file_config(enterprise={"requests_per_minute": None})) as h:
        headers = await h.headers(tier="enterprise", test=False)
        for _ in range(3):
            answer = await h.client.get("/v1/models", headers=headers)
            assert answer.status_code == 200
            assert not set(LIMIT_HEADERS) & set(answer.headers)
