"""The official `openai` package for Node streams one chat from the live server."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx2 as httpx

from tests.conftest import npm_modules

NODE_OPENAI = "7.57.0"

SCRIPT = """
const OpenAI = require("openai");
async function main() {
  const [baseURL, apiKey] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true },
    messages: [{ role: "system", content: "Be brief." },
               { role: "user", content: "What is the capital of France?" }],
  });
  const out = { text: "", chunks: 0, usage: null, finish: null, progress: 0 };
  for await (const chunk of stream) {
    out.chunks += 1;
    if (chunk.usage) out.usage = chunk.usage;
    if (chunk.konnect) out.progress += 1;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta && choice.delta.content) out.text += choice.delta.content;
    if (choice.finish_reason) out.finish = choice.finish_reason;
  }
  console.log(JSON.stringify(out));
}
main().catch((error) => { console.error(error); process.exit(1); });
"""


def node_modules() -> Path:
    return npm_modules(f"node-openai-{NODE_OPENAI}", [f"openai@{NODE_OPENAI}"])


def test_node_openai_streams_a_chat(quick_server: tuple[str, str], tmp_path: Path) -> None:
    modules = node_modules()
    url, key = quick_server
    script = tmp_path / "stream.cjs"
    script.write_text(SCRIPT)
    done = subprocess.run(["node", str(script), f"{url}/v1", key], capture_output=True,
                          text=True, timeout=60, check=False,
                          env={**os.environ, "NODE_PATH": str(modules)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finish"] == "stop" and result["progress"] >= 2
    assert result["usage"]["total_tokens"] > 0
    whole = httpx.post(f"{url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                       json={"model": "gpt-4o-mini", "messages": [
                           {"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "What is the capital of France?"}]})
    assert result["text"] == whole.json()["choices"][0]["message"]["content"]
