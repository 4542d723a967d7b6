"""API keys: format, storage as a hash, 401s, and the keys API."""

from __future__ import annotations

import asyncio
import math
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from chorus import auth
from chorus.config import ModelConfig
from chorus.store.schema import api_keys, users
from tests.api.test_completions import upstream_config
from tests.conftest import FakeUpstream, Harness, harness_for


def test_keys_have_at_least_192_random_bits() -> None:
    for test in (True, False):
        secret = auth.new_secret(test)
        assert secret.startswith("sk_test_" if test else "sk_live_")
        body = secret.split("_", 2)[2]
        assert len(body) * math.log2(62) >= 192
        assert auth.KEY_PATTERN.fullmatch(secret)
    assert len({auth.new_secret(True) for _ in range(1000)}) == 1000


async def test_missing_malformed_unknown_and_revoked_keys_are_401(harness: Harness) -> None:
    secret = await harness.key()
    unknown = auth.new_secret(True)
    for authorization in (None, "", "Bearer", "Basic abc", "Bearer sk_live_short",
                          "Bearer pk_test_" + "a" * 43, f"Bearer {unknown}", f"Token {secret}"):
        headers = {"authorization": authorization} if authorization is not None else {}
        response = await harness.client.get("/v1/sessions", headers=headers)
        assert response.status_code == 401, authorization
        assert response.json()["error"] == {"code": "invalid_api_key", "status": 401,
                                            "message": response.json()["error"]["message"]}
    ok = await harness.client.get("/v1/sessions", headers={"authorization": f"Bearer {secret}"})
    assert ok.status_code == 200


async def test_only_the_hash_is_stored(harness: Harness) -> None:
    secret = await harness.key()
    async with harness.services.store.engine.connect() as conn:
        rows = (await conn.execute(sa.select(api_keys))).mappings().all()
    dumped = repr(rows)
    assert secret not in dumped and secret[8:] not in dumped
    assert any(row["hash"] == auth.digest(secret) for row in rows)


async def test_keys_api_create_list_revoke(harness: Harness) -> None:
    headers = await harness.headers(test=False)
    created = await harness.client.post("/v1/keys", headers=headers,
                                        json={"name": "laptop", "test": False})
    assert created.status_code == 201
    key = created.json()
    assert key["secret"].startswith("sk_live_") and key["id"].startswith("key_")
    new_headers = {"authorization": f"Bearer {key['secret']}"}
    assert (await harness.client.get("/v1/sessions", headers=new_headers)).status_code == 200
    listed = (await harness.client.get("/v1/keys", headers=headers)).json()["data"]
    assert {k["name"] for k in listed} == {"test", "laptop"}
    assert all("secret" not in k for k in listed)
    revoked = await harness.client.delete(f"/v1/keys/{key['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await harness.client.get("/v1/sessions", headers=new_headers)
    assert after.status_code == 401 and "revoked" in after.json()["error"]["message"]


async def test_a_test_key_cannot_create_a_live_key(harness: Harness) -> None:
    test_key = await harness.headers(user="tess", test=True)
    refused = await harness.client.post("/v1/keys", headers=test_key,
                                        json={"name": "escalate", "test": False})
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "forbidden" and "sk_test_" in error["message"]
    assert [k["name"] for k in (await harness.client.get(
        "/v1/keys", headers=test_key)).json()["data"]] == ["test"]
    by_default = await harness.client.post("/v1/keys", headers=test_key, json={"name": "ci"})
    assert by_default.status_code == 201 and by_default.json()["secret"].startswith("sk_test_")
    assert by_default.json()["test"] is True
    live_key = await harness.headers(user="tess", test=False)
    for body, prefix in (({}, "sk_live_"), ({"test": True}, "sk_test_"),
                         ({"test": False}, "sk_live_")):
        made = await harness.client.post("/v1/keys", headers=live_key, json=body)
        assert made.status_code == 201 and made.json()["secret"].startswith(prefix), body


async def test_a_user_cannot_revoke_another_users_key(harness: Harness) -> None:
    alice, bob = await harness.headers(), await harness.headers()
    key = (await harness.client.post("/v1/keys", headers=alice, json={"name": "a"})).json()
    response = await harness.client.delete(f"/v1/keys/{key['id']}", headers=bob)
    assert response.status_code == 404
    still = {"authorization": f"Bearer {key['secret']}"}
    assert (await harness.client.get("/v1/sessions", headers=still)).status_code == 200


async def test_settings_round_trip_and_validation(harness: Harness) -> None:
    headers = await harness.headers()
    empty = (await harness.client.get("/v1/settings", headers=headers)).json()
    assert empty["default_model"] is None and empty["object"] == "settings"
    patched = await harness.client.patch("/v1/settings", headers=headers,
                                         json={"default_model": "gpt-4o-mini"})
    assert patched.status_code == 200 and patched.json()["default_model"] == "gpt-4o-mini"
    answer = (await harness.client.post("/v1/chat", headers=headers,
                                        json={"message": "hi"})).json()
    assert answer["models_used"] == ["gpt-4o-mini"]
    bad = await harness.client.patch("/v1/settings", headers=headers,
                                     json={"default_model": "nope"})
    assert bad.status_code == 400
    unknown = await harness.client.patch("/v1/settings", headers=headers,
                                         json={"colour": "red"})  # ignored, as everywhere
    assert unknown.status_code == 200 and "colour" not in unknown.json()


async def test_settings_are_per_kind_of_key_so_test_choices_never_break_live_chats(
        database_url: str, fake_llm: FakeUpstream) -> None:
    config = upstream_config(fake_llm.url)  # live keys get fake-small; no OpenAI key here
    config.models.append(ModelConfig(id="fake-other", provider="fake", upstream="small"))
    config.defaults.default_model = "fake-small"
    async with harness_for(database_url, file=config) as h:
        test_key = await h.headers(user="sam", test=True)
        live_key = await h.headers(user="sam", test=False)
        saved = await h.client.patch("/v1/settings", headers=test_key,
                                     json={"default_model": "gpt-4o-mini"})
        assert saved.status_code == 200, saved.text
        simulated = await h.client.post("/v1/chat", headers=test_key, json={"message": "hi"})
        assert simulated.json()["models_used"] == ["gpt-4o-mini"]
        live = await h.client.post("/v1/chat", headers=live_key, json={"message": "hi"})
        assert live.status_code == 200, live.text
        assert live.json()["models_used"] == ["fake-small"]
        assert (await h.client.get("/v1/settings", headers=live_key)).json()[
            "default_model"] is None
        refused = await h.client.patch("/v1/settings", headers=live_key,
                                       json={"default_model": "gpt-4o-mini"})
        assert refused.status_code == 400  # not offered to live keys on this server
        mine = await h.client.patch("/v1/settings", headers=live_key,
                                    json={"default_model": "fake-other", "cost_preference": 0.2})
        assert mine.status_code == 200
        again = await h.client.post("/v1/chat", headers=live_key, json={"message": "hi"})
        assert again.json()["models_used"] == ["fake-other"]
        kept = (await h.client.get("/v1/settings", headers=test_key)).json()
        assert kept["default_model"] == "gpt-4o-mini" and kept["cost_preference"] is None
        other_test_key = await h.headers(user="sam", test=True)  # one user: one per kind
        assert (await h.client.get("/v1/settings", headers=other_test_key)).json()[
            "default_model"] == "gpt-4o-mini"


async def test_settings_stored_before_the_split_apply_to_both_kinds(harness: Harness) -> None:
    test_key = await harness.headers(user="old-timer", test=True)
    live_key = await harness.headers(user="old-timer", test=False)
    async with harness.services.store.engine.begin() as conn:
        await conn.execute(users.update().where(users.c.name == "old-timer")
                           .values(settings={"cost_preference": 0.7}))
    harness.services.auth.forget(user_id=(await harness.services.store.users.by_name(
        "old-timer")).id)
    for headers in (test_key, live_key):
        body = (await harness.client.get("/v1/settings", headers=headers)).json()
        assert body["cost_preference"] == 0.7


async def test_requests_missing_the_cache_together_read_the_key_once(harness: Harness) -> None:
    secret = await harness.key()
    authenticator = auth.Authenticator(harness.services.store.users)
    reads: list[str] = []
    read = authenticator.users.key_by_hash

    async def counted(digest: str) -> Any:
        reads.append(digest)
        return await read(digest)

    authenticator.users = SimpleNamespace(key_by_hash=counted)  # type: ignore[assignment]
    found = await asyncio.gather(*(authenticator.resolve(f"Bearer {secret}") for _ in range(20)))
    assert len(reads) == 1 and {p.key.id for p in found} == {found[0].key.id}
    await authenticator.resolve(f"Bearer {secret}")
    assert len(reads) == 1, "then the cache answers"
