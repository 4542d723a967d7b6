"""The only code that speaks SQL: sessions, messages, users and keys, usage; migrations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from chorus.store.ids import new_id
from chorus.store.personas import PersonaStore
from chorus.store.responses import ResponseStore
from chorus.store.search import SearchStore
from chorus.store.sessions import SessionStore
from chorus.store.summaries import SummaryStore
from chorus.store.usage import UsageWriter
from chorus.store.users import UserStore


@dataclass(slots=True)
class Store:
    engine: AsyncEngine
    sessions: SessionStore
    users: UserStore
    usage: UsageWriter
    search: SearchStore
    summaries: SummaryStore
    personas: PersonaStore
    responses: ResponseStore

    @classmethod
    def over(cls, engine: AsyncEngine) -> Store:
        """A store for one instance: the questions it stores are owned by a new instance id."""
        return cls(engine, SessionStore(engine, new_id("inst")), UserStore(engine),
                   UsageWriter(engine), SearchStore(engine), SummaryStore(engine),
                   PersonaStore(engine), ResponseStore(engine))
