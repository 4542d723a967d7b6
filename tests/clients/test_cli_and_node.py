"""The Vercel AI SDK (Node) and the `llm` CLI, as their users run them, on every dialect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Target
from tests.conftest import npm_modules

AI_SDK = ["ai@7.0.173", "@ai-sdk/openai@4.0.118"]  # as tests/api/test_responses_node.py
AGENT = """
import { generateText, Output, tool, jsonSchema, stepCountIs } from "ai";
import { createOpenAI } from "@ai-sdk/openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey });
const looked = [];
const withTools = await generateText({
  model: openai.chat(model), maxRetries: 0, prompt: "What is the weather in Paris?",
  tools: {
    get_weather: tool({
      description: "Get the current weather in a city",
      inputSchema: jsonSchema({ type: "object", properties: { city: { type: "string" } },
                                required: ["city"], additionalProperties: false }),
      execute: async ({ city }) => { looked.push(city); return `Sunny, 21 degrees in ${city}`; },
    }),
  },
  toolChoice: "auto", stopWhen: stepCountIs(3),
});
const structured = await generateText({
  model: openai.chat(model), maxRetries: 0, prompt: "Describe Paris",
  output: Output.object({ schema: jsonSchema({
    type: "object", properties: { name: { type: "string" }, country: { type: "string" },
                                  population: { type: "integer" } },
    required: ["name", "country", "population"], additionalProperties: false }) }),
});
console.log(JSON.stringify({ looked, steps: withTools.steps.length, text: withTools.text,
                             object: structured.output }));
"""


def test_vercel_ai_sdk_runs_a_tool_and_generates_an_object(target: Target) -> None:
    """generateText with a tool it executes, and structured output (`Output.object`, which
    replaced generateObject in AI SDK 7)."""
    modules = npm_modules("node-ai-7.0.173-openai-4.0.118", AI_SDK)
    script = modules.parent / f"agent-{os.getpid()}.mjs"  # ES modules resolve from the file
    script.write_text(AGENT)
    try:
        done = subprocess.run(["node", str(script), target.base_url, target.key, target.model],
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        script.unlink()
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["looked"] == ["Paris"] and result["steps"] == 2
    assert "Sunny, 21 degrees in Paris" in result["text"]
    assert set(result["object"]) == {"name", "country", "population"}
    assert isinstance(result["object"]["population"], int)


@pytest.fixture
def llm_home(target: Target, tmp_path: Path) -> dict[str, str]:
    """The `llm` CLI's configuration: Chorus as an OpenAI-compatible model with tools and
    schemas, its key stored the way `llm keys set` stores it."""
    (tmp_path / "extra-openai-models.yaml").write_text(
        f"- model_id: chorus\n  model_name: {target.model}\n  api_base: \"{target.base_url}\"\n"
        "  api_key_name: chorus\n  supports_tools: true\n  supports_schema: true\n")
    (tmp_path / "keys.json").write_text(json.dumps({"chorus": target.key}))
    return {**os.environ, "LLM_USER_PATH": str(tmp_path)}


def llm(env: dict[str, str], *args: str) -> str:
    """What the CLI prints: the answer, then (`--td`, on stderr) each tool call it ran."""
    command = [str(Path(sys.executable).with_name("llm")), "-m", "chorus", "--no-log", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_llm_cli_schema(llm_home: dict[str, str]) -> None:
    found = json.loads(llm(llm_home, "--schema", "name, country, population int",
                           "Describe Paris").strip())
    assert set(found) == {"name", "country", "population"}
    assert isinstance(found["population"], int)


def test_llm_cli_tools(llm_home: dict[str, str]) -> None:
    functions = ("def get_weather(city: str) -> str:\n"
                 "    'Get the current weather in a city'\n"
                 "    return f'Sunny, 21 degrees in {city}'\n")
    out = llm(llm_home, "--functions", functions, "--td", "What is the weather in Paris?")
    assert "Tool call: get_weather(" in out and "Sunny, 21 degrees in" in out
    timed = llm(llm_home, "-T", "llm_time", "--td", "What time is it now?")
    assert "Tool call: llm_time(" in timed and "utc_time" in timed
