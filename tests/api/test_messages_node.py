"""The official `@anthropic-ai/sdk` for Node against the live server: create, stream, a tool
round trip and count_tokens, with a test key sent as the SDK sends `apiKey` (a bearer token)
and in `x-api-key`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import npm_modules

NODE_ANTHROPIC = "1.16.0"

SCRIPT = """
const Anthropic = require("@anthropic-ai/sdk");
async function main() {
  const [baseURL, apiKey, how] = process.argv.slice(2);
  const client = how === "x-api-key"
    ? new Anthropic({ baseURL, defaultHeaders: { "x-api-key": apiKey }, maxRetries: 0 })
    : new Anthropic({ baseURL, apiKey, maxRetries: 0 });
  const question = [{ role: "user", content: "What is the capital of France?" }];
  const whole = await client.messages.create({
    model: "gpt-4o-mini", max_tokens: 256, system: "Be brief.", messages: question });
  const stream = client.messages.stream({
    model: "gpt-4o-mini", max_tokens: 256, system: "Be brief.", messages: question });
  let streamed = "";
  stream.on("text", (text) => { streamed += text; });
  const final = await stream.finalMessage();
  const weather = { name: "get_weather", description: "Get the current weather for a city",
    input_schema: { type: "object", properties: { city: { type: "string" } },
                    required: ["city"] } };
  const ask = [{ role: "user", content: "What is the weather in Paris?" }];
  const called = await client.messages.create({
    model: "gpt-4o-mini", max_tokens: 256, tools: [weather], messages: ask });
  const use = called.content.find((block) => block.type === "tool_use");
  const answered = await client.messages.create({
    model: "gpt-4o-mini", max_tokens: 256, tools: [weather], messages: [...ask,
      { role: "assistant", content: called.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: use.id,
                                  content: "18C and sunny" }] }] });
  const counted = await client.messages.countTokens({ model: "gpt-4o-mini", messages: question });
  let missing = null;
  try {
    await client.messages.create({ model: "gpt-4o-mini", messages: question });
  } catch (error) {
    missing = { name: error.constructor.name, status: error.status, type: error.error.type,
                errorType: error.error.error.type };
  }
  console.log(JSON.stringify({
    whole: whole.content[0].text, stop: whole.stop_reason, streamed,
    final: final.content[0].text, finalStop: final.stop_reason, usage: final.usage,
    called: { stop: called.stop_reason, name: use.name, input: use.input },
    answered: answered.content[0].text, counted: counted.input_tokens, missing }));
}
main().catch((error) => { console.error(error); process.exit(1); });
"""


def node_modules() -> Path:
    return npm_modules(f"node-anthropic-{NODE_ANTHROPIC}", [f"@anthropic-ai/sdk@{NODE_ANTHROPIC}"])


@pytest.mark.parametrize("how", ["bearer", "x-api-key"])
def test_node_anthropic_sdk(quick_server: tuple[str, str], tmp_path: Path, how: str) -> None:
    modules = node_modules()
    url, key = quick_server
    script = tmp_path / "messages.cjs"
    script.write_text(SCRIPT)
    done = subprocess.run(["node", str(script), url, key, how], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "NODE_PATH": str(modules)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["whole"] and result["stop"] == "end_turn"
    assert result["streamed"] == result["final"] == result["whole"]
    assert result["finalStop"] == "end_turn" and result["usage"]["output_tokens"] > 0
    assert result["called"] == {"stop": "tool_use", "name": "get_weather",
                                "input": {"city": "Paris"}}
    assert "18C and sunny" in result["answered"]
    assert result["counted"] > 0
    assert result["missing"] == {"name": "BadRequestError", "status": 400,
                                 "type": "error", "errorType": "invalid_request_error"}
