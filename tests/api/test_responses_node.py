"""Node clients of the Responses API against a live Chorus: the Vercel AI SDK's default
`openai(...)` provider (generateText, streamText, a tool loop, a two-turn chat) and the
official `openai` package, with a test key and with a live key at fake-llm in each dialect."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chorus.app import create_app
from chorus.config import load_settings
from tests.api.test_completions_node import node_modules as openai_node_modules
from tests.api.test_responses_sdk import Server, dialect_config
from tests.conftest import FakeUpstream, ServerThread, new_key, npm_modules
from tests.providers.conftest import ALL_DIALECTS

PACKAGES = ("ai@7.0.173", "@ai-sdk/openai@4.0.118")
SCRIPT = Path(__file__).parent / "node" / "ai_sdk_responses.mjs"


def node_modules() -> Path:
    return npm_modules("node-ai-7.0.173-openai-4.0.118", PACKAGES)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory,
           fake_server: tuple[ServerThread, object]) -> Iterator[Server]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('ai-sdk')}/chorus.db"
    settings = load_settings(None, database_url=database_url, simulated_speed=0,
                             retry_backoff=0.01, file=dialect_config(fake_server[0].url))
    with ServerThread(create_app(settings)) as thread:
        yield Server(thread.url, database_url)


@pytest.mark.parametrize("who", ["test-key", *ALL_DIALECTS])
def test_the_ai_sdk_default_openai_provider(server: Server, fake_llm: FakeUpstream,
                                            who: str) -> None:
    modules = node_modules()
    test = who == "test-key"
    key = asyncio.run(new_key(server.database_url, "power", test))
    model = "gpt-4o" if test else f"up-{who}"
    done = subprocess.run(["node", str(SCRIPT), str(modules), f"{server.url}/v1", key, model],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    plain = out["plain"]
    assert plain["text"] and plain["finish"] == "stop" and plain["id"].startswith("resp_")
    assert plain["usage"]["totalTokens"] == (plain["usage"]["inputTokens"]
                                             + plain["usage"]["outputTokens"])
    assert out["streamed"]["text"] and out["streamed"]["finish"] == "stop"
    tools = out["tools"]
    assert tools["seen"] == ["Paris"] and tools["steps"] == 2
    assert "18C and sunny in Paris" in tools["text"]
    if not test:
        assert any("18C and sunny in Paris" in json.dumps(r["body"]) for r in fake_llm.requests)
    chat = out["chat"]
    assert chat["text"] and chat["sent"][1]["type"] == "item_reference"
    if not test:
        sent = json.dumps(fake_llm.requests[-1]["body"])
        assert json.dumps(chat["first"])[1:41] in sent and "And of Spain?" in sent


@pytest.mark.parametrize("who", ["test-key", *ALL_DIALECTS])
def test_the_node_openai_package_responses(server: Server, fake_llm: FakeUpstream,
                                           who: str) -> None:
    """The official `openai` package for Node: responses.create, then responses.stream
    continuing it by previous_response_id."""
    modules = openai_node_modules()
    test = who == "test-key"
    key = asyncio.run(new_key(server.database_url, "power", test))
    model = "gpt-4o" if test else f"up-{who}"
    done = subprocess.run(["node", str(SCRIPT.with_name("openai_responses.cjs")),
                           f"{server.url}/v1", key, model], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ,
                                                        "NODE_PATH": str(modules)})
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["first"] and out["second"] and out["previous"] == out["firstId"]
    assert out["kinds"][0] == "response.created" and out["kinds"][-1] == "response.completed"
    if not test:
        assert json.dumps(out["first"])[1:41] in json.dumps(fake_llm.requests[-1]["body"])
