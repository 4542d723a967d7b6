const OpenAI = require("openai");
async function main() {
  const [baseURL, apiKey, model] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
  const first = await client.responses.create({ model, input: "What is the capital of France?" });
  const stream = client.responses.stream({ model, input: "And of Spain?",
                                           previous_response_id: first.id });
  const kinds = [];
  for await (const event of stream) kinds.push(event.type);
  const second = await stream.finalResponse();
  console.log(JSON.stringify({ first: first.output_text, second: second.output_text,
                               previous: second.previous_response_id, firstId: first.id,
                               kinds }));
}
main().catch((error) => { console.error(error); process.exit(1); });
