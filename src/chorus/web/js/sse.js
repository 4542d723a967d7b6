// Server-Sent Events read from a fetch() body (EventSource cannot POST or send headers).

/** Parse one event block ("event: x\ndata: {...}") into {event, data}; null for comments. */
export function parseBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const text = data.join("\n");
  if (text === "[DONE]") return { event: "done", data: {} };
  return { event: name, data: JSON.parse(text) };
}

/** Yield each event of a streaming response as soon as its block is complete. */
export async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const parsed = parseBlock(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (parsed) yield parsed;
      }
    }
    const tail = buffer.trim() ? parseBlock(buffer) : null;
    if (tail) yield tail;
  } finally {
    reader.releaseLock();
  }
}
