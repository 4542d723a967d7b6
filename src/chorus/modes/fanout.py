"""Members run at once; their events reach the consumer the moment each one happens.

Every member is a task that emits its events as they happen (onto the script's queue,
chorus.modes.stages), so a slow member never holds back a fast one. Cancelling `run_all`
cancels every member task (and with it the member's upstream call) and waits for them, so
nothing of the request keeps running after the client is gone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from chorus.calls import Caller
from chorus.errors import ChorusError, InvalidModelOutput, UpstreamError, UpstreamTimeout
from chorus.modes import structured
from chorus.providers.base import collect
from chorus.records import record
from chorus.types import (
    AnswerDelta,
    MemberDelta,
    MemberDone,
    MemberResult,
    MemberStarted,
    Message,
    ModeEvent,
    ModelRequest,
    Slot,
    StreamEnd,
    TextDelta,
    Usage,
)

log = logging.getLogger(__name__)

STOP_WAIT_S = 5.0
"""How long closing waits for cancelled members to unwind before it gives up on them."""

Emit = Callable[[ModeEvent], None]
"""Where a member's events go the moment they happen."""


@record
class Call:
    """One model call in a role; `answer` streams its text as the final answer's deltas."""

    slot: Slot
    request: ModelRequest
    answer: bool = False


def error_of(exc: ChorusError) -> dict[str, object]:
    return {"code": exc.code, "message": exc.message}


async def run_member(caller: Caller, call: Call, emit: Emit) -> MemberResult:
    """Stream one call, emitting its events; a failure becomes a failed result, not a raise."""
    slot = call.slot
    emit(MemberStarted(slot))
    started = time.monotonic()
    parts: list[str] = []
    usage = Usage()
    finish_reason = "stop"
    request = replace(call.request, role=slot.role or slot.side or "member")
    try:
        async for chunk in caller.stream(slot.model, request):
            if isinstance(chunk, StreamEnd):
                usage, finish_reason = chunk.usage, chunk.finish_reason
            elif isinstance(chunk, TextDelta):  # no tools are offered to a member
                parts.append(chunk.text)
                emit(AnswerDelta(chunk.text) if call.answer else MemberDelta(slot, chunk.text))
        if request.output is not None and "".join(parts).strip():
            fixed, spent = await repaired(caller, slot.model, request, "".join(parts))
            usage.add(spent)
            parts = [fixed]
    except ChorusError as exc:
        result = MemberResult(slot, "failed", error=error_of(exc),
                              latency_ms=_ms_since(started), usage=usage)
    else:
        content = "".join(parts)
        if content.strip():
            result = MemberResult(slot, "ok", content, latency_ms=_ms_since(started),
                                  usage=usage, finish_reason=finish_reason)
        else:
            # An empty answer carries no work to combine; treat it like any other failure.
            result = MemberResult(slot, "failed", error={
                "code": "upstream_error", "message": "the model returned an empty answer"},
                latency_ms=_ms_since(started), usage=usage)
    emit(MemberDone(result))
    return result


async def run_all(caller: Caller, calls: Sequence[Call], emit: Emit) -> list[MemberResult]:
    """Every call at once, each emitting its events as they happen; the results in call order.

    A single call runs in the awaiting task itself. Cancelling this cancels every member and
    waits for it; a member's unexpected error (a bug, never a model's failure) is raised."""
    if len(calls) == 1:
        return [await run_member(caller, calls[0], emit)]
    tasks = [asyncio.create_task(run_member(caller, call, emit)) for call in calls]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and (exc := task.exception()) is not None:
                raise exc
        return [task.result() for task in tasks]
    finally:
        await stop(tasks)


async def stop(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel unfinished tasks (members, a script) and wait for them to unwind their calls.

    The server cancels a disconnected request at every await (anyio cancel scopes), so a
    repeated cancellation while waiting is noted and re-raised once the tasks are gone.
    """
    pending = {task for task in tasks if not task.done()}
    for task in pending:
        task.cancel()
    interrupted = False
    deadline = time.monotonic() + STOP_WAIT_S
    while pending := {task for task in pending if not task.done()}:
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning("%d tasks did not stop within %.0fs", len(pending), STOP_WAIT_S)
            break
        try:
            await asyncio.wait(pending, timeout=left)
        except asyncio.CancelledError:
            interrupted = True
    if interrupted:
        raise asyncio.CancelledError


async def repaired(caller: Caller, model: str, request: ModelRequest, text: str
                   ) -> tuple[str, Usage]:
    """An answer in the request's output format: `text` when it is valid, else the model's one
    corrected attempt; InvalidModelOutput when that is not valid either."""
    output = request.output
    assert output is not None, "only answers with an output format are checked"
    issues = structured.problems(output, text)
    if not issues:
        return text, Usage()
    again = replace(request, stream=False, messages=(
        *request.messages, Message("assistant", text),
        Message("user", structured.repair_prompt(output, issues))))
    answer = await collect(caller.stream(model, again))
    issues = structured.problems(output, answer.text)
    if issues:
        raise InvalidModelOutput(f"{model} did not answer in the requested format, after one "
                                 f"repair attempt: {'; '.join(issues)}")
    return answer.text.strip(), answer.usage


def finish_of(sources: Iterable[MemberResult]) -> str:
    """The answer's finish_reason: the first other than `stop` among the calls whose text it
    holds (`length`: max_tokens cut one of them), else `stop`."""
    return next((r.finish_reason for r in sources
                 if r.status == "ok" and r.finish_reason != "stop"), "stop")


def total_usage(results: Sequence[MemberResult]) -> Usage:
    usage = Usage()
    for result in results:
        usage.add(result.usage)
    return usage


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def succeeded(results: Sequence[MemberResult]) -> list[MemberResult]:
    return [r for r in results if r.status == "ok"]


def all_failed(results: Sequence[MemberResult]) -> UpstreamError:
    """The error of a request whose every member failed; a timeout if each one timed out."""
    reasons = "; ".join(f"{r.slot.model}: {(r.error or {}).get('message', 'failed')}"
                        for r in results)
    codes = {(r.error or {}).get("code") for r in results}
    kind = UpstreamTimeout if codes == {UpstreamTimeout.code} else UpstreamError
    return kind(f"every model failed ({reasons})")
