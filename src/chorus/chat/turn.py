"""A chat turn: check and plan the request, store the question, run the mode, store the answer.

`Turn.start` does everything that can refuse the request (a 4xx) before anything is stored;
`Turn.run` yields the mode's events and ends with `Finished`, whose result the front door
renders. The answer, or the failure, is stored and its usage recorded before `run` ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime

from chorus import limits
from chorus.auth import Principal
from chorus.calls import Caller
from chorus.chat.history import history_of, stored_details, tool_calls_json
from chorus.chat.plan import (
    check_capabilities,
    check_multi_model,
    defaults_for,
    named,
    persona_prompts,
    session_aggregation,
    session_mode,
    split,
)
from chorus.chat.request import TurnRequest
from chorus.chat.services import Services
from chorus.context import Fitter, fit_plain
from chorus.errors import (
    ChorusError,
    InternalError,
    InvalidModelOutput,
    InvalidRequest,
)
from chorus.modes import ModeContext, ModeOptions, Planned, planned, structured
from chorus.records import record
from chorus.store.ids import new_id, utcnow
from chorus.store.sessions import SessionRow
from chorus.store.usage import RequestContext
from chorus.summaries import SessionFitter
from chorus.titles import TitleJob, title_from
from chorus.tools import ToolLoop
from chorus.types import (
    AGGREGATIONS,
    JSON,
    AnswerDelta,
    CallRecord,
    Message,
    ModeEvent,
    ModeName,
    Outcome,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)


@record
class TurnResult:
    """The stored answer: what every front door renders."""

    id: str
    """The answer's message id (a new id when nothing is stored)."""
    session_id: str | None
    mode: ModeName
    content: str
    models_used: tuple[str, ...]
    details: JSON
    usage: Usage
    finish_reason: str
    tool_calls: tuple[ToolCall, ...]
    logprobs: tuple[JSON, ...]
    created_at: datetime
    latency_ms: int


@record
class Finished:
    """The last event of a turn."""

    result: TurnResult


TurnEvent = ModeEvent | Finished


@record
class TurnHooks:
    """What the front door tells the turn about its HTTP request."""

    on_mode: Callable[[ModeName], None] = lambda mode: None
    """Called with the mode once it is known (the access log labels the request)."""
    usage_ids: Callable[[], tuple[str, str | None]] = lambda: (new_id("req"), None)
    """The id of the request's usage records, and the access log's id of the request."""


NO_HOOKS = TurnHooks()


class Turn:
    """One question and its answer; build it with `Turn.start`."""

    def __init__(self, services: Services, principal: Principal, request: TurnRequest,
                 mode: ModeName, session: SessionRow | None, caller: Caller, plan: Planned,
                 options: ModeOptions, web: ToolLoop | None, tools_note: str,
                 question: int | None, hooks: TurnHooks) -> None:
        self.services = services
        self.principal = principal
        self.request = request
        self.mode: ModeName = mode
        self.session = session
        self.caller = caller
        self.plan = plan
        self.options = options
        self._web = web
        self._tools_note = tools_note
        self._question = question
        """The stored question's `seq`, which the answer (or failure) replies to."""
        self._hooks = hooks

    @classmethod
    async def start(cls, services: Services, principal: Principal, request: TurnRequest,
                    hooks: TurnHooks = NO_HOOKS) -> Turn:
        """Check and plan everything, then store the question; errors here are plain 4xx."""
        assert request.persist or request.session_id is None, "a session is stored"
        if not request.new:
            raise InvalidRequest("messages: the turn adds no message", param="messages")
        user = principal.user
        mode: ModeName = request.mode or "smart_chat"
        options = request.options
        question: int | None = None
        session: SessionRow | None = None
        stored: tuple[Message, ...] = ()
        if request.session_id is not None:
            session, rows = await services.store.sessions.with_messages(user.id,
                                                                         request.session_id)
            mode = session_mode(session, request)
            if session.aggregation is not None:
                options = replace(options, aggregation=named(AGGREGATIONS, session.aggregation))
            stored = history_of(rows)
        conversation = split((*request.context, *stored, *request.new))
        limits.check_mode(services.settings, principal, mode)
        hooks.on_mode(mode)
        if options.model is not None:
            services.catalog.get(options.model, principal.test)
        check_multi_model(mode, options, conversation)
        defaults = defaults_for(services, principal)
        prompts = await persona_prompts(services, user.id, set(options.personas.values()))
        if options.tools is not None:
            web, tools_note = None, "off: the client's own tools are offered instead"
        else:
            web, tools_note = services.web.for_request(options.enable_tools, principal.test)
        session_id = session.id if session else new_id("sess") if request.persist else None
        calls: list[CallRecord] = []
        fitter: Fitter = fit_plain
        if session_id is not None and defaults.summary_model:
            side = Caller(services.registry, principal.test, stream=request.stream, calls=calls)
            fitter = SessionFitter(session_id, services.store.summaries, side,
                                   defaults.summary_model)
        caller = Caller(services.registry, principal.test, fitter=fitter, web=web,
                        stream=request.stream, calls=calls)
        ctx = ModeContext(caller, conversation.history, conversation.asked, options, defaults,
                          prompts, conversation.after)
        plan = planned(mode, ctx)
        check_capabilities(ctx, plan)
        if request.persist and session_id is not None:
            if session is None:
                session = await services.store.sessions.create(
                    user.id, title_from(conversation.asked.content), mode,
                    session_aggregation(mode, options, defaults), session_id=session_id)
                services.titles.request(TitleJob(session.id, user.id, principal.key.id,
                                                 principal.test, conversation.asked.content))
            question = await _store_new(services, session.id, request.new)
        return cls(services, principal, request, mode, session, caller, plan, options, web,
                   tools_note, question if request.persist else None, hooks)

    async def run(self) -> AsyncIterator[TurnEvent]:
        """The mode's events, then Finished; the answer, or the failure, is stored first.

        With structured output the answer's text is held back until it is checked, then sent
        whole: a client never reads JSON that is then corrected."""
        started = time.monotonic()
        held = self.options.output is not None
        outcome: Outcome | None = None
        try:
            async for item in self.plan.script():
                if isinstance(item, Outcome):
                    outcome = item
                elif not (held and isinstance(item, AnswerDelta)):
                    yield item
            if outcome is None:
                raise InternalError(f"the {self.mode} mode ended without an answer")
            self._check_output(outcome)
        except ChorusError as exc:
            await self._record_failure(exc.as_json())
            raise
        except (asyncio.CancelledError, GeneratorExit):
            await asyncio.shield(self._record_failure(
                {"code": "cancelled", "message": "the client went away before the answer",
                 "status": 499}))
            raise
        except Exception as exc:
            log.exception("the %s mode failed", self.mode)
            await self._record_failure(InternalError("the mode failed").as_json())
            raise InternalError("the mode failed; the server log has details") from exc
        if held and outcome.content:
            yield AnswerDelta(outcome.content)
        yield Finished(await self._finish(outcome, started))

    async def answer(self) -> TurnResult:
        """Run the turn to its end and return the result (for clients that take it whole)."""
        result = None
        async for event in self.run():  # to its end: a generator left open is closed later,
            if isinstance(event, Finished):  # by a task of its own
                result = event.result
        if result is None:
            raise InternalError("the turn ended without a result")
        return result

    def _check_output(self, outcome: Outcome) -> None:
        """The last guard: an answer not in the requested format is never passed off as one."""
        output = self.options.output
        if output is None or outcome.tool_calls:
            return
        issues = structured.problems(output, outcome.content)
        if issues:
            raise InvalidModelOutput(f"the answer is not in the requested format: "
                                     f"{'; '.join(issues)}")

    async def _finish(self, outcome: Outcome, started: float) -> TurnResult:
        details = dict(outcome.details)
        details["tools"] = self._tools_note
        if self._web is not None:
            details.update(self._web.details())
        # Usage first: it is recorded whatever then happens to the session.
        await self._record_usage()
        message_id, created_at = new_id("msg"), utcnow()
        if self.session is not None:
            stored = {**details, "tool_calls": tool_calls_json(outcome.tool_calls)} \
                if outcome.tool_calls else details
            # Shielded: a client leaving while a finished answer is written must not lose it.
            row = await asyncio.shield(self.services.store.sessions.add_message(
                self.session.id, "assistant", outcome.content,
                models_used=outcome.models_used, details=stored, reply_to=self._question))
            message_id, created_at = row.id, row.created_at
        return TurnResult(message_id, self.session.id if self.session else None, self.mode,
                          outcome.content, tuple(outcome.models_used), details, outcome.usage,
                          outcome.finish_reason, outcome.tool_calls, outcome.logprobs,
                          created_at, int((time.monotonic() - started) * 1000))

    async def _record_failure(self, error: JSON) -> None:
        try:
            await self._record_usage()
        finally:
            if self.session is not None:
                await asyncio.shield(self.services.store.sessions.add_message(
                    self.session.id, "assistant", "", models_used=[], error=error,
                    reply_to=self._question))

    async def _record_usage(self) -> None:
        if not self.caller.calls:
            return
        usage_id, access_id = self._hooks.usage_ids()
        context = RequestContext(usage_id, self.principal.user.id, self.principal.key.id,
                                 self.session.id if self.session else None, self.mode,
                                 access_request_id=access_id)
        calls, self.caller.calls[:] = list(self.caller.calls), []
        await self.services.store.usage.record(context, calls)


async def _store_new(services: Services, session_id: str, new: tuple[Message, ...]) -> int:
    """Store the turn's messages; the last is the question this instance now runs (owned by
    it until answered, so a crash leaves a question marked `interrupted`, not forgotten)."""
    sessions = services.store.sessions
    for message in new[:-1]:
        await sessions.add_message(session_id, message.role, message.content,
                                   details=stored_details(message))
    last = new[-1]
    row = await sessions.add_question(session_id, last.content, last.role,
                                      details=stored_details(last))
    return row.seq


