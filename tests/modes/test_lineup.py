"""Default lineups follow cost_preference: raising it never makes a lineup dearer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chorus.config import ProviderConfig
from chorus.modes.lineup import ranked
from chorus.providers.catalog import ModelEntry
from tests.conftest import Harness
from tests.modes.conftest import chat
from tests.modes.script import Script

PREFERENCES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)


async def seats_price(h: Harness, script: Script, mode: str, preference: float) -> float:
    """The summed blended price of every seat the default lineup filled (a member, an
    expert, a side, the judge, the aggregator), each counted once."""
    script.records.clear()
    await chat(h, await h.headers(), mode=mode, cost_preference=preference)
    seats = {(r.role, r.model, r.system) for r in script.records}
    return sum(h.services.catalog.get(model, True).blended_price for _, model, _ in seats)


async def test_raising_cost_preference_never_raises_a_default_lineups_price(
        h: Harness, script: Script) -> None:
    for mode in ("ensemble", "council", "debate"):
        prices = [await seats_price(h, script, mode, c) for c in PREFERENCES]
        assert prices == sorted(prices, reverse=True), (mode, prices)
        assert prices[0] > prices[-1], f"{mode}: the lineup ignores cost_preference"


async def test_the_users_setting_is_the_default_preference(h: Harness, script: Script) -> None:
    headers = await h.headers()
    await h.client.patch("/v1/settings", headers=headers, json={"cost_preference": 1.0})
    script.records.clear()
    await chat(h, headers, mode="ensemble")
    cheap = {r.model for r in script.records}
    script.records.clear()
    await chat(h, headers, mode="ensemble", cost_preference=0.0)
    best = {r.model for r in script.records}
    price = h.services.catalog
    assert (sum(price.get(m, True).blended_price for m in cheap)
            < sum(price.get(m, True).blended_price for m in best))


PROVIDERS = [ProviderConfig(name=f"p{n}", base_url="http://unused") for n in range(3)]
entries = st.lists(st.builds(
    lambda i, p, q, price: ModelEntry(f"m{i}", PROVIDERS[p], f"m{i}", 8192, price, price,
                                      quality=q),
    st.integers(0, 10**6), st.integers(0, 2), st.floats(0, 1), st.floats(0, 100)),
    min_size=1, max_size=8, unique_by=lambda e: e.id)


@settings(max_examples=200, deadline=None)
@given(entries, st.floats(0, 1), st.floats(0, 1))
def test_every_prefix_of_the_ranking_is_no_dearer_at_a_higher_preference(
        pool: list[ModelEntry], a: float, b: float) -> None:
    low, high = sorted((a, b))
    cheap, dear = ranked(pool, high), ranked(pool, low)
    for size in range(1, len(pool) + 1):
        assert (sum(e.blended_price for e in cheap[:size])
                <= sum(e.blended_price for e in dear[:size]) + 1e-9)


async def test_models_shows_each_patterns_expected_price_range(h: Harness,
                                                               script: Script) -> None:
    listed = (await h.client.get("/v1/models", headers=await h.headers())).json()["data"]
    ranges = {m["konnect"]["pattern"]: m["konnect"]["expected_price_per_million"]
              for m in listed if "pattern" in m["konnect"]}
    assert set(ranges) == {"smart_chat", "ensemble", "council", "debate"}
    for mode in ("ensemble", "council", "debate"):
        dearest = await seats_price(h, script, mode, 0.0)
        cheapest = await seats_price(h, script, mode, 1.0)
        assert ranges[mode] == {"min": round(cheapest, 4), "max": round(dearest, 4)}, mode
    prices = [m["konnect"]["price_per_million"] for m in listed if "pattern" not in m["konnect"]]
    blended = [(3 * p["input"] + p["output"]) / 4 for p in prices]
    assert ranges["smart_chat"] == {"min": round(min(blended), 4), "max": round(max(blended), 4)}
