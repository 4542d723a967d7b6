"""API keys: generation, hashing, and resolving a bearer token to its user."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from typing import Annotated

from fastapi import Request, Security
from fastapi.security import HTTPBearer
from starlette.types import Scope

from chorus.errors import InvalidApiKey
from chorus.records import record
from chorus.store.ids import base62
from chorus.store.users import KeyRow, UserRow, UserStore

KEY_PATTERN = re.compile(r"sk_(live|test)_[0-9A-Za-z]{40,64}")
SECRET_BYTES = 32  # 256 random bits
CACHE_SECONDS = 5.0


def new_secret(test: bool) -> str:
    return ("sk_test_" if test else "sk_live_") + base62(SECRET_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    """What a key list shows of a secret: its kind and four characters."""
    return secret[:12]


@record
class Principal:
    user: UserRow
    key: KeyRow

    @property
    def test(self) -> bool:
        return self.key.test


class Authenticator:
    """Resolves secrets by hash; a short cache keeps the database off the hot path."""

    def __init__(self, users: UserStore, cache_seconds: float = CACHE_SECONDS) -> None:
        self.users = users
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._reading: dict[str, asyncio.Future[tuple[KeyRow, UserRow] | None]] = {}

    async def resolve(self, authorization: str | None) -> Principal:
        secret = _bearer(authorization)
        key_hash = digest(secret)
        now = time.monotonic()
        cached = self._cache.get(key_hash)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._read(key_hash)
        if found is None or not hmac.compare_digest(found[0].hash, key_hash):
            raise InvalidApiKey("invalid API key")
        key, user = found
        if key.revoked_at is not None:
            raise InvalidApiKey("this API key has been revoked")
        principal = Principal(user, key)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_hash] = (now + self.cache_seconds, principal)
        return principal

    async def _read(self, key_hash: str) -> tuple[KeyRow, UserRow] | None:
        """One database read per key at a time. When the cached entry expired under load, every
        request in flight missed it at once and queued a read on SQLite's one connection."""
        reading = self._reading.get(key_hash)
        if reading is None:
            reading = asyncio.ensure_future(self.users.key_by_hash(key_hash))
            self._reading[key_hash] = reading
            reading.add_done_callback(lambda _: self._reading.pop(key_hash, None))
        return await asyncio.shield(reading)  # a waiter that goes away leaves it to the others

    def forget(self, key_id: str | None = None, user_id: str | None = None) -> None:
        """Drop cached entries of a revoked key or of a changed user."""
        self._reading.clear()  # a read in flight may predate the change
        for key_hash, (_, principal) in list(self._cache.items()):
            if principal.key.id == key_id or principal.user.id == user_id:
                del self._cache[key_hash]


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise InvalidApiKey("missing API key: send 'Authorization: Bearer sk_...'")
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not KEY_PATTERN.fullmatch(secret):
        raise InvalidApiKey("malformed API key: expected 'Bearer sk_live_...' or 'sk_test_...'")
    return secret


# Declares the scheme in the OpenAPI document; `principal` reads the header itself.
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="an API key: sk_live_…, or sk_test_… for simulated answers")


def known_caller(scope: Scope) -> Principal | None:
    """The caller the rate limits resolved already, from the same header: in the request's
    state (`request.state.principal`), read as the dict it is."""
    state = scope.get("state")
    return state.get("principal") if state else None


def remember_caller(scope: Scope, found: Principal) -> None:
    scope.setdefault("state", {})["principal"] = found


async def principal(request: Request,
                    _declared: Annotated[object, Security(BEARER)] = None) -> Principal:
    """FastAPI dependency: the caller, or 401 in the envelope."""
    found = known_caller(request.scope)
    if found is None:
        authenticator: Authenticator = request.app.services.auth
        found = await authenticator.resolve(request.headers.get("authorization"))
        remember_caller(request.scope, found)
    return found
