"""A chat turn: check the request, store the question, run the mode, store the answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from chorus import limits
from chorus.api.access import note_mode, usage_ids
from chorus.api.personas import prompts_for
from chorus.app import Services
from chorus.auth import Principal
from chorus.config import ModeDefaults
from chorus.errors import ChorusError, InternalError, SessionModeMismatch
from chorus.modes import ModeContext, ModeOptions, mode_check, mode_runner
from chorus.store.ids import iso, new_id, utcnow
from chorus.store.sessions import MessageRow, SessionRow
from chorus.store.usage import RequestContext
from chorus.summaries import SessionFitter
from chorus.titles import TitleJob, title_from
from chorus.types import JSON, Message, ModeEvent, ModeName, Outcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TurnInput:
    message: str
    mode: ModeName | None
    session_id: str | None
    options: ModeOptions
    context: tuple[Message, ...] = ()
    """Messages placed before the session's history: system prompts, a stateless history."""
    persist: bool = True
    """False answers without storing anything (only with no session_id)."""
    stream: bool = True
    """False when the client takes the answer whole (then so do the model calls)."""


def history_of(messages: list[MessageRow]) -> tuple[Message, ...]:
    """Earlier turns as context; a question whose answer failed is left out with it."""
    out: list[Message] = []
    for index, row in enumerate(messages):
        if row.error is not None:
            continue
        if row.role == "user":
            answer = messages[index + 1] if index + 1 < len(messages) else None
            if answer is not None and answer.error is not None:
                continue
            out.append(Message("user", row.content))
        elif row.role == "assistant":
            out.append(Message("assistant", row.content))
    return tuple(out)


def defaults_for(services: Services, principal: Principal) -> ModeDefaults:
    """Server defaults with the user's own settings laid over them."""
    base = services.settings.file.defaults
    merged = base.model_dump()
    for key, value in principal.user.settings.items():
        if value is None or key not in ModeDefaults.model_fields:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            # debate_models: a side the user left null keeps the server's model
            value = {**merged[key], **{k: v for k, v in value.items() if v is not None}}
        merged[key] = value
    return ModeDefaults.model_validate(merged)


class Turn:
    """One question and its answer; `run` yields the mode's events, then `response` is set."""

    def __init__(self, services: Services, principal: Principal, turn: TurnInput) -> None:
        self.services = services
        self.principal = principal
        self.input = turn
        self.caller = services.registry.caller(principal.test)
        self.caller.upstream_stream = turn.stream
        self.session: SessionRow | None = None
        self.response: JSON = {}
        self.finish_reason = "stop"
        self._ctx: ModeContext | None = None
        self._mode: ModeName = turn.mode or "smart_chat"
        self._tools = "off"
        """What `details.tools` says."""
        self._question: int | None = None  # issue 20: the stored question's seq (reply_to)

    @property
    def mode(self) -> ModeName:
        return self._mode

    async def prepare(self) -> SessionRow | None:
        """Validate everything, then store the user's message; errors here are plain 4xx."""
        assert self.input.persist or self.input.session_id is None, "a session is stored"
        sessions = self.services.store.sessions
        user = self.principal.user
        history: tuple[Message, ...] = ()
        session: SessionRow | None = None
        aggregation = self.input.options.aggregation
        if self.input.session_id is not None:
            session, rows = await sessions.with_messages(user.id, self.input.session_id)
            requested = self.input.mode
            if requested is not None and requested != session.mode:
                raise SessionModeMismatch(
                    f"session {session.id} is a {session.mode} session; its mode cannot change",
                    param="mode")
            if (aggregation is not None and session.aggregation is not None
                    and aggregation != session.aggregation):
                raise SessionModeMismatch(
                    f"session {session.id} uses aggregation {session.aggregation}",
                    param="aggregation")
            self._mode = session.mode  # type: ignore[assignment]
            if session.aggregation is not None:
                aggregation = session.aggregation  # type: ignore[assignment]
            history = history_of(rows)
        history = (*self.input.context, *history)
        self._check_tier()
        note_mode(self._mode)
        options = self.input.options
        if options.model is not None:
            self.caller.entry(options.model)
        if aggregation != options.aggregation:
            options = replace(options, aggregation=aggregation)
        self._ctx = ModeContext(self.caller, self.input.message, history, options,
                                defaults_for(self.services, self.principal))
        await self._check_mode(self._ctx)
        self.caller.tools, self._tools = self.services.web.for_request(options.enable_tools,
                                                                       self.principal.test)
        if not self.input.persist:
            return None
        if session is None:
            session = await sessions.create(user.id, title_from(self.input.message),
                                            self._mode, self._session_aggregation(options))
            self.services.titles.request(TitleJob(session.id, user.id, self.principal.key.id,
                                                  self.principal.test, self.input.message))
        self.session = session
        summary_model = self._ctx.defaults.summary_model
        if summary_model:
            self.caller.fitter = SessionFitter(session.id, self.services.store.summaries,
                                               self.caller, summary_model)
        self._question = (await sessions.add_question(self.session.id, self.input.message)).seq
        return self.session

    def _session_aggregation(self, options: ModeOptions) -> str | None:
        if self._mode != "ensemble":
            return None
        return options.aggregation or self._ctx.defaults.ensemble_aggregation  # type: ignore[union-attr]

    async def _check_mode(self, ctx: ModeContext) -> None:
        """Personas and the mode's own checks (models, counts), before anything is stored."""
        ctx.persona_prompts = await prompts_for(self.services, self.principal.user.id,
                                                set(ctx.options.personas.values()))
        mode_check(self._mode)(ctx)

    def _check_tier(self) -> None:
        limits.check_mode(self.services.settings, self.principal, self._mode)

    async def run(self) -> AsyncIterator[ModeEvent]:
        """The mode's events; the answer, or the failure, is stored before this ends."""
        assert self._ctx is not None, "prepare() first"
        started = time.monotonic()
        outcome: Outcome | None = None
        try:
            async for item in mode_runner(self._mode)(self._ctx):
                if isinstance(item, Outcome):
                    outcome = item
                yield item
            if outcome is None:
                raise InternalError(f"the {self._mode} mode ended without an answer")
        except ChorusError as exc:
            await self._record_failure(exc.as_json())
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await asyncio.shield(self._record_failure(
                {"code": "cancelled", "message": "the client went away before the answer",
                 "status": 499}))
            raise
        except Exception as exc:
            log.exception("the %s mode failed", self._mode)
            await self._record_failure(InternalError("the mode failed").as_json())
            raise InternalError("the mode failed; the server log has details") from exc
        outcome.details["tools"] = self._tools
        if self.caller.tools is not None:
            outcome.details.update(self.caller.tools.details())
        message_id, created_at = new_id("msg"), utcnow()
        if self.session is not None:
            # Shielded: a client leaving while a finished answer is written must not lose it.
            row = await asyncio.shield(self.services.store.sessions.add_message(
                self.session.id, "assistant", outcome.content, models_used=outcome.models_used,
                details=outcome.details, reply_to=self._question))
            message_id, created_at = row.id, row.created_at
        await self._record_usage()
        self.finish_reason = outcome.finish_reason
        self.response = {
            "id": message_id, "object": "chat.message",
            "session_id": self.session.id if self.session else None,
            "mode": self._mode, "role": "assistant", "content": outcome.content,
            "models_used": outcome.models_used, "created_at": iso(created_at),
            "details": outcome.details, "usage": outcome.usage.as_json(),
            "latency_ms": int((time.monotonic() - started) * 1000),
        }

    async def _record_failure(self, error: JSON) -> None:
        if self.session is None:
            await self._record_usage()
            return
        try:
            await asyncio.shield(self.services.store.sessions.add_message(
                self.session.id, "assistant", "", models_used=[], error=error,
                reply_to=self._question))
        finally:
            await self._record_usage()

    async def _record_usage(self) -> None:
        if not self.caller.calls:
            return
        usage_id, access_id = usage_ids()  # issue 20: own id + the access log's
        context = RequestContext(usage_id, self.principal.user.id, self.principal.key.id,
                                 self.session.id if self.session else None, self._mode,
                                 access_request_id=access_id)
        calls, self.caller.calls = self.caller.calls, []
        await self.services.store.usage.record(context, calls)
