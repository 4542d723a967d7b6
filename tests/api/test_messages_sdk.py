"""The official `anthropic` Python package as a client of the live server on a real socket:
with a test key (simulated models) and with a live key against fake-llm in each dialect."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import MessageParam, ToolParam

from chorus.app import create_app
from chorus.config import load_settings
from tests.conftest import FakeUpstream, ServerThread, new_key

QUESTION: list[MessageParam] = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER: ToolParam = {"name": "get_weather", "description": "Get the current weather for a city",
                      "input_schema": {"type": "object",
                                       "properties": {"city": {"type": "string"}},
                                       "required": ["city"]}}
DIALECTS = {"openai": ("/v1", "small"), "anthropic": ("/v1", "claude-3-5-haiku-latest"),
            "gemini": ("/v1beta", "small")}


def config(fake_url: str) -> str:
    """The operator's TOML: one provider per dialect at fake-llm, and a one-request tier."""
    lines: list[str] = []
    for dialect, (path, upstream) in DIALECTS.items():
        lines += ["[[providers]]", f'name = "up-{dialect}"', f'dialect = "{dialect}"',
                  f'base_url = "{fake_url}{path}"', 'api_key = "upstream-key"', "max_retries = 0",
                  "[[models]]", f'id = "live-{dialect}"', f'provider = "up-{dialect}"',
                  f'upstream = "{upstream}"', "price_in = 1.0", "price_out = 2.0"]
    lines += ["[[models]]", 'id = "live-broken"', 'provider = "up-openai"',
              'upstream = "small@fault=500"',
              "[tiers.trickle]", 'modes = ["smart_chat"]', "requests_per_minute = 1",
              'queries_per_period = "unlimited"',
              "[test_keys]", 'requests_per_minute = "unlimited"',
              'queries_per_period = "unlimited"']
    return "\n".join(lines) + "\n"


@dataclass
class Live:
    url: str
    database_url: str

    def key(self, tier: str = "power", test: bool = True) -> str:
        return asyncio.run(new_key(self.database_url, tier, test))

    def client(self, tier: str = "power", test: bool = True, x_api_key: bool = False
               ) -> anthropic.Anthropic:
        """This SDK sends its `api_key` as `Authorization: Bearer`; with `x_api_key` the key
        goes in the `x-api-key` header, as Anthropic's other clients send it."""
        key = self.key(tier, test)
        if x_api_key:
            return anthropic.Anthropic(base_url=self.url, default_headers={"x-api-key": key},
                                       max_retries=0, timeout=30)
        return anthropic.Anthropic(base_url=self.url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory,
                fake_server: tuple[ServerThread, object]) -> Iterator[Live]:
    folder = tmp_path_factory.mktemp("anthropic")
    toml = folder / "chorus.toml"
    toml.write_text(config(fake_server[0].url))
    database_url = f"sqlite:///{folder}/chorus.db"
    settings = load_settings(Path(toml), database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01)
    with ServerThread(create_app(settings)) as server:
        yield Live(server.url, database_url)


@pytest.fixture
def live(live_server: Live, fake_llm: FakeUpstream) -> Live:
    return live_server


@pytest.fixture(params=["test", "openai", "anthropic", "gemini"])
def target(request: pytest.FixtureRequest, live: Live) -> tuple[anthropic.Anthropic, str]:
    """A client and the model it asks: simulated with a test key (sent as a bearer token), else
    fake-llm's dialect (the key sent as x-api-key)."""
    if request.param == "test":
        return live.client(), "claude-haiku-4-5-20251001"
    return live.client(test=False, x_api_key=True), f"live-{request.param}"


def konnect_of(item: object) -> dict[str, Any]:
    extra = getattr(item, "model_extra", None) or {}
    found = extra.get("konnect")
    assert isinstance(found, dict), item
    return found


def text_of(message: anthropic.types.Message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


def test_create(target: tuple[anthropic.Anthropic, str]) -> None:
    client, model = target
    message = client.messages.create(model=model, max_tokens=256, messages=QUESTION,
                                     system="Be brief.")
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == model
    assert text_of(message) and message.stop_reason == "end_turn"
    assert message.stop_sequence is None
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert konnect_of(message)["models_used"] == [model]
    assert konnect_of(message)["mode"] == "smart_chat"


def test_stream_text_and_final_message(target: tuple[anthropic.Anthropic, str]) -> None:
    client, model = target
    with client.messages.stream(model=model, max_tokens=256, messages=QUESTION) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == text_of(final)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    assert final.usage.input_tokens > 0
    whole = client.messages.create(model=model, max_tokens=256, messages=QUESTION)
    assert text_of(whole) == text_of(final)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
def test_a_tool_use_then_its_result(target: tuple[anthropic.Anthropic, str],
                                    streamed: bool) -> None:
    client, model = target
    asked: list[MessageParam] = [{"role": "user", "content": "What is the weather in Paris?"}]

    def ask(messages: list[MessageParam]) -> anthropic.types.Message:
        if not streamed:
            return client.messages.create(model=model, max_tokens=256, messages=messages,
                                          tools=[WEATHER])
        with client.messages.stream(model=model, max_tokens=256, messages=messages,
                                    tools=[WEATHER]) as stream:
            return stream.get_final_message()

    called = ask(asked)
    assert called.stop_reason == "tool_use"
    (use,) = [b for b in called.content if b.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"}) and use.id
    answered = ask([*asked, {"role": "assistant", "content": called.content},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                                  "content": "18C and sunny"}]}])
    assert answered.stop_reason == "end_turn"
    assert "18C and sunny" in text_of(answered)


def test_count_tokens(target: tuple[anthropic.Anthropic, str]) -> None:
    client, model = target
    plain = client.messages.count_tokens(model=model, messages=QUESTION)
    with_tools = client.messages.count_tokens(model=model, messages=QUESTION, tools=[WEATHER],
                                              system="Be brief.")
    assert 0 < plain.input_tokens < with_tools.input_tokens


def test_a_pattern_model_runs_its_mode(live: Live) -> None:
    models = ["gpt-4o", "claude-haiku-4-5-20251001"]
    message = live.client().messages.create(
        model="konnect-ensemble", max_tokens=256, messages=QUESTION,
        extra_body={"konnect.models": models, "konnect.aggregation": "synthesis"})
    found = konnect_of(message)
    assert found["mode"] == "ensemble" and set(models) <= set(found["models_used"])
    assert found["details"]["aggregation"] == "synthesis" and text_of(message)


def test_errors_are_the_sdks_typed_errors(live: Live) -> None:
    client = live.client()
    with pytest.raises(anthropic.BadRequestError) as missing:
        client.messages.create(model="gpt-4o", messages=QUESTION,
                               max_tokens=anthropic.omit)  # type: ignore[arg-type]
    body = missing.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["param"] == "max_tokens" and "max_tokens" in body["error"]["message"]
    for bad in (anthropic.Anthropic(base_url=live.url, api_key="sk_test_" + "x" * 43,
                                    max_retries=0),
                anthropic.Anthropic(base_url=live.url, max_retries=0,
                                    default_headers={"x-api-key": "sk_test_" + "x" * 43})):
        with pytest.raises(anthropic.AuthenticationError) as refused:
            bad.messages.create(model="gpt-4o", max_tokens=64, messages=QUESTION)
        assert isinstance(refused.value.body, dict)
        assert refused.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.PermissionDeniedError):
        live.client(tier="free").messages.create(model="konnect-council", max_tokens=64,
                                                 messages=QUESTION)
    with pytest.raises(anthropic.NotFoundError) as no_route:
        client.get("/v1/messages/batches", cast_to=dict)
    assert isinstance(no_route.value.body, dict)
    assert no_route.value.body["error"]["type"] == "not_found_error"


def test_a_bearer_token_works_too(live: Live) -> None:
    client = anthropic.Anthropic(base_url=live.url, auth_token=live.key(), max_retries=0)
    assert text_of(client.messages.create(model="gpt-4o", max_tokens=64, messages=QUESTION))


@pytest.mark.parametrize("x_api_key", [True, False], ids=["x-api-key", "bearer"])
def test_callers_are_rate_limited(live: Live, x_api_key: bool) -> None:
    client = live.client(tier="trickle", x_api_key=x_api_key)
    client.messages.create(model="gpt-4o", max_tokens=64, messages=QUESTION)
    with pytest.raises(anthropic.RateLimitError) as limited:
        client.messages.count_tokens(model="gpt-4o", messages=QUESTION)
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert isinstance(limited.value.body, dict)
    assert limited.value.body["error"]["type"] == "rate_limit_error"


def test_an_upstream_failure_mid_stream_is_an_error_event(live: Live) -> None:
    client = live.client(test=False)
    with pytest.raises(anthropic.APIStatusError) as raised, client.messages.stream(
            model="live-broken", max_tokens=64, messages=QUESTION) as stream:
        stream.get_final_message()
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["error"]["type"] == "api_error"
    assert "injected fault 500" in raised.value.body["error"]["message"]


def test_the_readme_call_runs(live: Live, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S)
                if "anthropic.Anthropic(" in b]
    code = block.replace("http://127.0.0.1:8000", live.url).replace(
        'os.environ["CHORUS_KEY"]', repr(live.key()))
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip()
