"""What a simulated model does beyond prose: calls tools, answers from their results, writes
JSON to a schema, sees images, stops at stop strings and gives log probabilities.

Pure and deterministic: the same request (and seed) gives the same reply. fake-llm decides
with it too, so a test key and a live key against the fake behave alike."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import orjson

from chorus.providers.schema_sample import sample
from chorus.providers.simulated_roles import content_words
from chorus.records import record
from chorus.types import JSON, ImagePart, Message, ModelRequest, ToolCall, ToolSpec

GENERIC = frozenset(("get", "set", "use", "find", "current", "tool", "function", "call",
                     "return", "returns", "given", "value", "data", "info", "information"))
"""Words in tool names and descriptions too common to say a question fits the tool."""
ANSWER_WORDS = frozenset(("answer", "final", "result", "output", "response"))
"""A tool named with one of these gives the final answer (pydantic-ai's `final_result`,
the Anthropic dialect's `json_answer`): `required` with no tool fitting the question calls it."""
ALTERNATIVES = (" the", " a", " and", " of", " to", " is", ".", ",")


@record
class Reply:
    text: str
    calls: tuple[ToolCall, ...] = ()
    finish_reason: str = "stop"


def digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def question_of(messages: Sequence[Message]) -> Message | None:
    return next((m for m in reversed(messages) if m.role == "user"), None)


def words_for_strings(text: str) -> list[str]:
    """Words to fill string fields: the question's names if it has any, else its content."""
    tokens = re.findall(r"[A-Za-z0-9][\w'-]*", text)
    names = [t for i, t in enumerate(tokens) if i and t[0].isupper()]
    if names:
        return names
    found = content_words(text)
    return [t for t in tokens if t.lower() in found] or tokens


def _tool_words(tool: ToolSpec) -> set[str]:
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", tool.name).replace("_", " ").replace("-", " ")
    return content_words(f"{name} {tool.description}") - GENERIC


def _stem(words: set[str]) -> set[str]:
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def fit(tool: ToolSpec, question: str) -> int:
    """How many content words the question shares with a tool's name and description."""
    return len(_stem(_tool_words(tool)) & _stem(content_words(question) - GENERIC))


def _since_question(messages: Sequence[Message]) -> list[Message]:
    last = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    return list(messages[last + 1:])


def tools_to_call(request: ModelRequest, question: str) -> list[ToolSpec]:
    """`required` and a named tool always call (`required`: the tools the question fits, else
    an answer tool, else the first not called yet); `auto` calls tools the question fits that
    were not called yet for it; `none` never calls. After results, `auto` answers instead."""
    choice = request.tool_choice.kind if request.tool_choice is not None else "auto"
    if not request.tools or choice == "none":
        return []
    if choice == "function":
        named = request.tool_choice.name if request.tool_choice is not None else None
        return [t for t in request.tools if t.name == named][:1]
    recent = _since_question(request.messages)
    called = {call.name for m in recent for call in m.tool_calls}
    ranked = sorted(request.tools, key=lambda t: -fit(t, question))
    fresh = [t for t in ranked if t.name not in called]
    if choice == "required":
        fitting = [t for t in fresh if fit(t, question)]
        answering = [t for t in fresh if ANSWER_WORDS & set(re.split(r"[_\W]+", t.name.lower()))]
        picked = fitting or answering[:1] or fresh[:1] or ranked[:1]
    elif recent and recent[-1].role == "tool":
        return []
    else:
        picked = [t for t in fresh if fit(t, question)]
    return picked if request.parallel_tool_calls is not False else picked[:1]


def tool_calls(model: str, request: ModelRequest, question: str) -> tuple[ToolCall, ...]:
    words = words_for_strings(question)
    turn = str(len(request.messages))
    return tuple(ToolCall(f"call_{digest(model, question, turn, tool.name)[:24]}", tool.name,
                          _arguments(tool.parameters, words))
                 for tool in tools_to_call(request, question))


def _arguments(schema: JSON, words: Sequence[str]) -> JSON:
    found = sample(schema, words)
    return found if isinstance(found, dict) else {"value": found}


def from_results(messages: Sequence[Message]) -> str | None:
    """An answer quoting the tool results that end the conversation, or None."""
    results: list[Message] = []
    for message in reversed(messages):
        if message.role != "tool":
            break
        results.insert(0, message)
    if not results:
        return None
    quoted = "; ".join(f"{m.name or 'the tool'} returned {m.content.strip()!r}" for m in results)
    return f"Based on the tool results: {quoted}."


def _image_kind(image: ImagePart) -> str:
    inline = image.inline
    if inline is not None:
        return f"{inline[0]}, {len(inline[1]) * 3 // 4} bytes"
    return image.url.rsplit("/", 1)[-1][:60] or image.url[:60]


def seen(images: Sequence[ImagePart]) -> str:
    """`I see 1 image (image/png, 68 bytes). `: what a model says about the images it got."""
    if not images:
        return ""
    noun = "image" if len(images) == 1 else "images"
    kinds = "; ".join(_image_kind(image) for image in images)
    return f"I see {len(images)} {noun} ({kinds}). "


def structured(model: str, request: ModelRequest, text: str, words: Sequence[str]) -> str:
    """The answer as the requested JSON: valid against the schema (each model, and seed, its
    own valid instance), or an object with the text."""
    output = request.output
    if output is None:
        return text
    if output.kind == "json_schema" and output.schema is not None:
        variant = int(digest(model, str(request.seed))[:6], 16)
        return orjson.dumps(sample(output.schema, words, variant)).decode()
    return orjson.dumps({"answer": text}).decode()


def cut_at_stop(text: str, stop: Sequence[str] | None) -> str:
    """The text before the first stop string, as a model stops there."""
    found = [text.find(s) for s in stop or () if s and s in text]
    return text[:min(found)] if found else text


def reply(model: str, request: ModelRequest, prose: str) -> Reply:
    """The whole reply of a simulated model; `prose` is its plain answer to the question."""
    message = question_of(request.messages)
    question = message.content if message is not None else ""
    calls = tool_calls(model, request, question)
    if calls:
        return Reply("", calls, "tool_calls")
    quoted = from_results(request.messages)
    text = quoted if quoted is not None else prose
    if message is not None and quoted is None:
        text = seen(message.images) + text
    words = words_for_strings(text if quoted is not None else question)
    return Reply(cut_at_stop(structured(model, request, text, words), request.stop))


def json_pieces(text: str, size: int = 12) -> list[str]:
    """JSON text in chunks, as a model streams structured output."""
    return [text[i:i + size] for i in range(0, len(text), size)]


def logprobs(model: str, piece: str, top: int | None) -> tuple[JSON, ...]:
    """An OpenAI `logprobs.content` entry for a streamed piece, with `top` alternatives."""
    logprob = -(int(digest(model, piece)[:6], 16) % 2000) / 1000

    def entry(token: str, value: float) -> JSON:
        return {"token": token, "logprob": round(value, 4), "bytes": list(token.encode())}
    others = [t for t in ALTERNATIVES if t != piece]
    alternatives = [entry(piece, logprob)] + [entry(t, logprob - 1.0 - i)
                                              for i, t in enumerate(others)]
    return ({**entry(piece, logprob), "top_logprobs": alternatives[:top or 0]},)
