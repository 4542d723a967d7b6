"""The official `openai` Python package's Responses API (`client.responses`) against a live
Chorus on a real socket: with a test key (simulated models) and with a live key against
fake-llm in each of the three dialects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import agents
import jsonschema
import openai
import pydantic
import pytest

from chorus.app import create_app
from chorus.config import FileConfig, ModelConfig, ProviderConfig, load_settings
from tests.conftest import FakeUpstream, ServerThread, new_key
from tests.providers.conftest import ALL_DIALECTS, provider_config

UPSTREAM_MODELS = {"openai": "small", "anthropic": "claude-3-5-haiku-latest", "gemini": "small"}
WEATHER: dict[str, Any] = {
    "type": "function", "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False},
    "strict": True}
PERSON = {"type": "object", "properties": {
    "name": {"type": "string"}, "born": {"type": "integer", "minimum": 1800},
    "fields": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
    "required": ["name", "born", "fields"], "additionalProperties": False}


@dataclass
class Server:
    url: str
    database_url: str

    def client(self, test: bool = True) -> openai.OpenAI:
        key = asyncio.run(new_key(self.database_url, "power", test))
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)


def dialect_config(fake_url: str) -> FileConfig:
    """One provider per dialect at fake-llm, each with one model `up-<dialect>`."""
    providers: list[ProviderConfig] = []
    models: list[ModelConfig] = []
    for dialect in ALL_DIALECTS:
        providers.append(provider_config(dialect, fake_url, max_retries=0))
        models.append(ModelConfig(id=f"up-{dialect}", provider=f"up-{dialect}",
                                  upstream=UPSTREAM_MODELS[dialect], price_in=1.0,
                                  price_out=2.0))
    return FileConfig(providers=providers, models=models)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           fake_server: tuple[ServerThread, object]) -> Iterator[Server]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('responses')}/chorus.db"
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01, file=dialect_config(fake_server[0].url))
    with ServerThread(create_app(settings)) as thread:
        yield Server(thread.url, database_url)


@dataclass
class Caller:
    """A client and the model it asks: a test key's simulated model, or a live key's model
    of one dialect at fake-llm (`fake` then holds what the upstream received)."""

    client: openai.OpenAI
    model: str
    fake: FakeUpstream | None

    def upstream_body(self) -> str:
        """The last request the upstream received, as JSON text."""
        assert self.fake is not None
        return json.dumps(self.fake.requests[-1]["body"])


@pytest.fixture(params=["test-key", *ALL_DIALECTS])
def caller(request: pytest.FixtureRequest, server: Server, fake_llm: FakeUpstream) -> Caller:
    if request.param == "test-key":
        return Caller(server.client(test=True), "gpt-4o", None)
    return Caller(server.client(test=False), f"up-{request.param}", fake_llm)


def konnect_of(item: object) -> dict[str, Any]:
    found = (getattr(item, "model_extra", None) or {}).get("konnect")
    assert isinstance(found, dict), item
    return found


def test_a_plain_call(caller: Caller) -> None:
    answer = caller.client.responses.create(model=caller.model,
                                            input="What is the capital of France?",
                                            instructions="Answer briefly.")
    assert answer.object == "response" and answer.status == "completed"
    assert answer.id.startswith("resp_") and answer.model == caller.model
    assert [o.type for o in answer.output] == ["message"] and answer.output_text
    assert answer.usage is not None and answer.usage.input_tokens > 0
    assert answer.usage.total_tokens == answer.usage.input_tokens + answer.usage.output_tokens
    assert answer.instructions == "Answer briefly." and answer.store is True
    konnect = konnect_of(answer)
    assert konnect["models_used"] == [caller.model] and konnect["mode"] == "smart_chat"
    if caller.fake is not None:
        assert "Answer briefly." in caller.upstream_body()


def test_a_streamed_call(caller: Caller) -> None:
    with caller.client.responses.stream(model=caller.model,
                                        input="What is the capital of Spain?") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:4] == ["response.created", "response.in_progress",
                         "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    numbers = [e.sequence_number for e in events]
    assert numbers == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text and final.output_text == text and final.status == "completed"
    stored = caller.client.responses.retrieve(final.id)
    assert stored.output_text == text


def test_stream_true_gives_raw_events(caller: Caller) -> None:
    events = list(caller.client.responses.create(model=caller.model, input="Hello there",
                                                 stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None and completed.response.output_text


def test_previous_response_id_over_three_turns(caller: Caller) -> None:
    client = caller.client
    first = client.responses.create(model=caller.model,
                                    input="My name is Ada. What is the capital of France?")
    second = client.responses.create(model=caller.model, input="And the capital of Spain?",
                                     previous_response_id=first.id)
    third = client.responses.create(model=caller.model, input="Which cities did I ask about?",
                                    previous_response_id=second.id)
    assert third.previous_response_id == second.id and third.output_text
    if caller.fake is not None:
        sent = caller.upstream_body()
        for earlier in ("My name is Ada", first.output_text[:40], "the capital of Spain",
                        second.output_text[:40], "Which cities did I ask about?"):
            assert json.dumps(earlier)[1:-1] in sent
    session_id = konnect_of(first)["session_id"]
    assert konnect_of(third)["session_id"] == session_id
    listed = client.get("/sessions", cast_to=dict)["data"]
    assert session_id in [s["id"] for s in listed]
    session = client.get(f"/sessions/{session_id}", cast_to=dict)
    contents = [m["content"] for m in session["messages"]]
    assert contents == ["My name is Ada. What is the capital of France?", first.output_text,
                        "And the capital of Spain?", second.output_text,
                        "Which cities did I ask about?", third.output_text]


def test_function_tools_with_a_function_call_output_round_trip(caller: Caller) -> None:
    client = caller.client
    called = client.responses.create(model=caller.model, input="What is the weather in Paris?",
                                     tools=[WEATHER])
    calls = [o for o in called.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and called.status == "completed"
    assert json.loads(calls[0].arguments)["city"]
    answered = client.responses.create(
        model=caller.model, previous_response_id=called.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": calls[0].call_id,
                "output": "18C and sunny"}])
    assert answered.output[0].type == "message" and answered.output_text
    if caller.fake is not None:
        sent = caller.upstream_body()
        assert "18C and sunny" in sent and "What is the weather in Paris?" in sent
    items = client.responses.input_items.list(answered.id).data
    assert [i.type for i in items] == ["function_call_output"]


def test_a_stateless_tool_round_trip_sends_the_whole_history(caller: Caller) -> None:
    """As the Agents SDK does: store false, the function_call given back in the input."""
    client = caller.client
    question = {"role": "user", "content": "What is the weather in Paris?"}
    called = client.responses.create(model=caller.model, input=[question], tools=[WEATHER],
                                     store=False)
    call = next(o for o in called.output if o.type == "function_call")
    answered = client.responses.create(
        model=caller.model, tools=[WEATHER], store=False,
        input=[question, {"type": "function_call", "call_id": call.call_id, "name": call.name,
                          "arguments": call.arguments},
               {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}])
    assert answered.output_text and "session_id" not in konnect_of(answered)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(answered.id)


def test_streamed_function_call(caller: Caller) -> None:
    with caller.client.responses.stream(model=caller.model, tools=[WEATHER],
                                        input="What is the weather in Lyon?") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[-5:] == ["response.output_item.added", "response.function_call_arguments.delta",
                          "response.function_call_arguments.done", "response.output_item.done",
                          "response.completed"]
    call = final.output[-1]
    assert call.type == "function_call" and json.loads(call.arguments)["city"]


def test_text_format_json_schema(caller: Caller) -> None:
    answer = caller.client.responses.create(
        model=caller.model, input="Tell me about Marie Curie",
        text={"format": {"type": "json_schema", "name": "person", "schema": PERSON,
                         "strict": True}})
    jsonschema.validate(json.loads(answer.output_text), PERSON)
    assert answer.text is not None and answer.text.format is not None
    assert answer.text.format.type == "json_schema"


class Person(pydantic.BaseModel):
    name: str
    born: int
    fields: list[str]


def test_responses_parse_with_a_pydantic_model(caller: Caller) -> None:
    parsed = caller.client.responses.parse(model=caller.model, text_format=Person,
                                           input="Tell me about Ada Lovelace")
    assert isinstance(parsed.output_parsed, Person) and parsed.output_parsed.name
    with caller.client.responses.stream(model=caller.model, text_format=Person,
                                        input="Tell me about Alan Turing") as stream:
        final = stream.get_final_response()
    assert isinstance(final.output_parsed, Person)


def test_retrieve_input_items_and_delete(server: Server) -> None:
    client = server.client()
    answer = client.responses.create(model="gpt-4o", input=[
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "Name a colour."}]},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Another one?"}])
    again = client.responses.retrieve(answer.id)
    assert again.id == answer.id and again.output_text == answer.output_text
    items = client.responses.input_items.list(answer.id, order="asc").data
    assert [getattr(i, "role", None) for i in items] == ["developer", "user", "assistant",
                                                          "user"]
    newest = client.responses.input_items.list(answer.id, limit=2)
    assert [i.id for i in newest.data] == [items[3].id, items[2].id] and newest.has_more
    rest = client.responses.input_items.list(answer.id, limit=2, after=newest.last_id)
    assert [i.id for i in rest.data] == [items[1].id, items[0].id] and not rest.has_more
    client.responses.delete(answer.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(answer.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(answer.id)
    session_id = konnect_of(answer)["session_id"]
    assert client.get(f"/sessions/{session_id}", cast_to=dict)["message_count"] == 4


def test_errors_in_openai_shape(server: Server) -> None:
    client = server.client()
    with pytest.raises(openai.BadRequestError) as unknown_item:
        client.responses.create(model="gpt-4o", input=[{"type": "reasoning", "summary": []}])
    assert unknown_item.value.param == "input" and unknown_item.value.code == "invalid_request"
    assert unknown_item.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as orphan:
        client.responses.create(model="gpt-4o", input=[
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "call_nothing", "output": "x"}])
    assert orphan.value.param == "input" and "call_nothing" in orphan.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        client.responses.create(model="gpt-4o", input="hi", previous_response_id="resp_nope")
    assert missing.value.param == "previous_response_id"
    mine = client.responses.create(model="gpt-4o", input="hi")
    other = server.client()
    for attempt in (lambda: other.responses.retrieve(mine.id),
                    lambda: other.responses.delete(mine.id),
                    lambda: other.responses.input_items.list(mine.id),
                    lambda: other.responses.create(model="gpt-4o", input="and?",
                                                   previous_response_id=mine.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    with pytest.raises(openai.BadRequestError) as tool:
        client.responses.create(model="gpt-4o", input="hi", tools=[{"type": "web_search"}])
    assert tool.value.param == "tools" and "web_search" in tool.value.message
    with pytest.raises(openai.BadRequestError) as reasoning:
        client.responses.create(model="gpt-4o", input="hi", reasoning={"effort": "high"})
    assert reasoning.value.param == "reasoning"


def test_an_openai_agents_sdk_agent_with_a_function_tool(caller: Caller) -> None:
    """The OpenAI Agents SDK on its default model (the Responses API) runs its tool loop."""
    seen: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        seen.append(city)
        return f"It is 18C and sunny in {city}."

    client = openai.AsyncOpenAI(base_url=str(caller.client.base_url),
                                api_key=caller.client.api_key, max_retries=0)
    agent = agents.Agent(name="Weather", instructions="Use the tool to answer.",
                         tools=[get_weather], model=caller.model)
    config = agents.RunConfig(model_provider=agents.OpenAIProvider(openai_client=client),
                              tracing_disabled=True)
    result = agents.Runner.run_sync(agent, "What is the weather in Paris?", run_config=config)
    assert seen == ["Paris"]
    assert "18C and sunny" in result.final_output


def test_an_agents_sdk_agent_streamed_and_chained_by_previous_response_id(
        caller: Caller) -> None:
    """run_streamed reads the Responses events; auto_previous_response_id sends only the tool
    results after the first call, continuing the stored response."""
    @agents.function_tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return f"It is 18C and sunny in {city}."

    async def run() -> tuple[str, list[str], str]:
        client = openai.AsyncOpenAI(base_url=str(caller.client.base_url),
                                    api_key=caller.client.api_key, max_retries=0)
        agent = agents.Agent(name="Weather", instructions="Use the tool to answer.",
                             tools=[get_weather], model=caller.model)
        config = agents.RunConfig(model_provider=agents.OpenAIProvider(openai_client=client),
                                  tracing_disabled=True)
        streamed = agents.Runner.run_streamed(agent, "What is the weather in Oslo?",
                                              run_config=config)
        kinds = [event.type async for event in streamed.stream_events()]
        chained = await agents.Runner.run(agent, "What is the weather in Rome?",
                                          run_config=config, auto_previous_response_id=True)
        return str(streamed.final_output), kinds, str(chained.final_output)

    streamed, kinds, chained = asyncio.run(run())
    assert "18C and sunny in Oslo" in streamed and "raw_response_event" in kinds
    assert "18C and sunny in Rome" in chained
    sessions = caller.client.get("/sessions", cast_to=dict)["data"]
    rome = [s for s in sessions if s["title"] == "What is the weather in Rome?"]
    assert [s["message_count"] for s in rome] == [4]  # one session: the call was continued
    if caller.fake is not None:
        body = caller.fake.requests[-1]["body"]
        assert "What is the weather in Rome?" in json.dumps(body)
