"""API keys of the caller: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from chorus import auth, limits
from chorus.api import RequestBody, services_of
from chorus.auth import Principal, principal
from chorus.chat.services import Services
from chorus.errors import Forbidden
from chorus.store.ids import iso
from chorus.store.users import KeyRow
from chorus.types import JSON

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Caller = Annotated[Principal, Depends(principal)]


class KeyCreate(RequestBody):
    name: str = Field("default", min_length=1, max_length=200)
    test: bool | None = None
    """None: the kind of the calling key."""


def key_json(row: KeyRow) -> JSON:
    return {"id": row.id, "object": "api_key", "name": row.name, "prefix": row.prefix,
            "test": row.test, "created_at": iso(row.created_at),
            "revoked_at": iso(row.revoked_at) if row.revoked_at else None}


async def create_key(services: Services, user_id: str, name: str, test: bool,
                     max_keys: int | None) -> tuple[KeyRow, str]:
    secret = auth.new_secret(test)
    row = await services.store.users.add_key(user_id, name, auth.display_prefix(secret),
                                              auth.digest(secret), test, max_keys)
    return row, secret


def kind_to_create(caller: Principal, test: bool | None) -> bool:
    """Whether the new key is a test key. Whoever holds only a test key stays on simulated
    models: a test key may create test keys only."""
    if test is None:
        return caller.test
    if caller.test and not test:
        raise Forbidden("a sk_test_ key can only create sk_test_ keys; create live keys with "
                        "a live key or `chorus keys create`", param="test")
    return test


@router.post("", status_code=201)
async def create(request: Request, body: KeyCreate, caller: Caller) -> JSON:
    services = services_of(request)
    allowed = limits.allowance(services.settings, caller)
    row, secret = await create_key(services, caller.user.id, body.name,
                                   kind_to_create(caller, body.test), allowed.max_keys)
    return {**key_json(row), "secret": secret}


@router.get("")
async def list_keys(request: Request, caller: Caller) -> JSON:
    rows = await services_of(request).store.users.keys(caller.user.id)
    return {"object": "list", "data": [key_json(r) for r in rows]}


@router.delete("/{key_id}")
async def revoke(request: Request, key_id: str, caller: Caller) -> JSON:
    services = services_of(request)
    row = await services.store.users.revoke_key(key_id, caller.user.id)
    services.auth.forget(key_id=row.id)
    return {**key_json(row), "revoked": True}
