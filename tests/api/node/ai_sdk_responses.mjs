const [modules, baseURL, apiKey, model] = process.argv.slice(2);
const ai = await import(`${modules}/ai/dist/index.js`);
const { createOpenAI } = await import(`${modules}/@ai-sdk/openai/dist/index.js`);
const bodies = [];
const openai = createOpenAI({ baseURL, apiKey, fetch: async (url, init) => {
  if (init && init.body) bodies.push(JSON.parse(init.body));
  return fetch(url, init);
} });
const out = {};
const plain = await ai.generateText({ model: openai(model), system: "Be brief.",
                                      prompt: "What is the capital of France?" });
out.plain = { text: plain.text, finish: plain.finishReason, usage: plain.usage,
              id: plain.response.id };
const streamed = ai.streamText({ model: openai(model), prompt: "What is the capital of Spain?" });
let text = "";
for await (const piece of streamed.textStream) text += piece;
out.streamed = { text, finish: await streamed.finishReason };
const seen = [];
const weather = ai.tool({
  description: "Get the current weather for a city",
  inputSchema: ai.jsonSchema({ type: "object", properties: { city: { type: "string" } },
                               required: ["city"], additionalProperties: false }),
  execute: async ({ city }) => { seen.push(city); return `18C and sunny in ${city}`; },
});
const tooled = await ai.generateText({ model: openai(model), tools: { get_weather: weather },
                                       stopWhen: ai.stepCountIs(3),
                                       prompt: "What is the weather in Paris?" });
out.tools = { text: tooled.text, seen, steps: tooled.steps.length };
const question = { role: "user", content: "What is the capital of France?" };
const first = await ai.generateText({ model: openai(model), messages: [question] });
const second = await ai.generateText({ model: openai(model), messages: [
  question, ...first.response.messages, { role: "user", content: "And of Spain?" }] });
out.chat = { text: second.text, first: first.text, sent: bodies[bodies.length - 1].input };
console.log(JSON.stringify(out));
