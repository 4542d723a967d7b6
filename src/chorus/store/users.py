"""Users and their API keys (stored as a SHA-256 hash, never the secret)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.errors import Forbidden, NotFound
from chorus.records import as_values, field_names, record
from chorus.store.caps import insert_capped
from chorus.store.ids import new_id, utcnow
from chorus.store.schema import api_keys, users
from chorus.types import JSON


@record
class UserRow:
    id: str
    name: str
    tier: str
    settings: JSON
    """Model preferences of one kind of key: read through a key (`key_by_hash`), that key's
    kind; otherwise the live keys'. Each kind has its own (see `settings_of`)."""
    created_at: datetime


KINDS = ("live", "test")


def settings_of(stored: JSON, test: bool) -> JSON:
    """The preferences of one kind of key from the stored `settings` column.

    They are kept per kind, `{"live": {...}, "test": {...}}`: preferences saved with a test key
    name simulated models, which a server without that provider's key does not offer to live
    keys, and must not turn the same user's live chats into 400s. A flat object (stored before
    they were split) applies to both kinds.
    """
    if not any(kind in stored for kind in KINDS):
        return stored
    chosen = stored.get("test" if test else "live")
    return chosen if isinstance(chosen, dict) else {}


def _user(row: Sequence[Any], test: bool = False) -> UserRow:
    """A users row, with the preferences of the test or the live keys."""
    user = UserRow(*row)
    return replace(user, settings=settings_of(user.settings, test))


def _with_settings(stored: JSON, test: bool, settings: JSON) -> JSON:
    """The stored column with one kind's preferences replaced and the other's kept."""
    other = "live" if test else "test"
    return {other: settings_of(stored, not test), "test" if test else "live": settings}


@record
class KeyRow:
    id: str
    user_id: str
    name: str
    prefix: str
    hash: str
    test: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_USER_COLUMNS = [users.c[name] for name in field_names(UserRow)]
_KEY_COLUMNS = [api_keys.c[name] for name in field_names(KeyRow)]


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(sa.select(sa.func.count()).select_from(users))).scalar_one()

    async def ensure(self, name: str, tier: str) -> UserRow:
        """The user called `name`, created with `tier` if new."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(
                sa.select(*_USER_COLUMNS).where(users.c.name == name))).first()
            if row is not None:
                return _user(row)
            user = UserRow(new_id("usr"), name, tier, {}, utcnow())
            await conn.execute(users.insert().values(
                id=user.id, name=user.name, tier=user.tier, settings=user.settings,
                created_at=user.created_at))
            return user

    async def set_tier(self, user_id: str, tier: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(users.update().where(users.c.id == user_id).values(tier=tier))

    async def get(self, user_id: str) -> UserRow:
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                sa.select(*_USER_COLUMNS).where(users.c.id == user_id))).first()
        if row is None:
            raise NotFound(f"user {user_id!r} not found")
        return _user(row)

    async def by_name(self, name: str) -> UserRow:
        async with self.engine.connect() as conn:
            row = (await conn.execute(
                sa.select(*_USER_COLUMNS).where(users.c.name == name))).first()
        if row is None:
            raise NotFound(f"user {name!r} not found")
        return _user(row)

    async def update_settings(self, user_id: str, test: bool, settings: JSON) -> None:
        """Replace the preferences of the user's test or live keys; the other kind's stay."""
        async with self.engine.begin() as conn:
            stored = (await conn.execute(sa.select(users.c.settings)
                                         .where(users.c.id == user_id)
                                         .with_for_update())).scalar_one()
            await conn.execute(users.update().where(users.c.id == user_id)
                               .values(settings=_with_settings(stored, test, settings)))

    async def add_key(self, user_id: str, name: str, prefix: str, digest: str,
                      test: bool, max_keys: int | None = None) -> KeyRow:
        """A new key; with `max_keys`, 403 if the user holds that many unrevoked keys already
        (checked atomically, so concurrent creates cannot pass it)."""
        row = KeyRow(new_id("key"), user_id, name, prefix, digest, test, utcnow(), None, None)
        values = as_values(row)
        async with self.engine.begin() as conn:
            if max_keys is None:
                await conn.execute(api_keys.insert().values(**values))
                return row
            active = sa.and_(api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None))
            added = await insert_capped(conn, api_keys, values, active, max_keys, user_id)
        if not added:
            raise Forbidden(f"this account may hold at most {max_keys} keys at once (its "
                            "tier's limit); revoke one first")
        return row

    async def key_by_hash(self, digest: str) -> tuple[KeyRow, UserRow] | None:
        query = (sa.select(*_KEY_COLUMNS, *_USER_COLUMNS)
                 .join(users, users.c.id == api_keys.c.user_id)
                 .where(api_keys.c.hash == digest))
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        split = len(_KEY_COLUMNS)
        key = KeyRow(*row[:split])
        return key, _user(row[split:], key.test)

    async def keys(self, user_id: str) -> list[KeyRow]:
        query = (sa.select(*_KEY_COLUMNS).where(api_keys.c.user_id == user_id)
                 .order_by(api_keys.c.created_at.desc(), api_keys.c.id))
        async with self.engine.connect() as conn:
            return [KeyRow(*r) for r in await conn.execute(query)]

    async def revoke_key(self, key_id: str, user_id: str | None = None) -> KeyRow:
        """Revoke a key (of `user_id`, when given); revoking twice keeps the first time."""
        where = [api_keys.c.id == key_id]
        if user_id is not None:
            where.append(api_keys.c.user_id == user_id)
        async with self.engine.begin() as conn:
            await conn.execute(api_keys.update().where(*where, api_keys.c.revoked_at.is_(None))
                               .values(revoked_at=utcnow()))
            row = (await conn.execute(sa.select(*_KEY_COLUMNS).where(*where))).first()
        if row is None:
            raise NotFound(f"key {key_id!r} not found")
        return KeyRow(*row)
