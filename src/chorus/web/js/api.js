// The public Chorus API, and nothing else: every call carries the signed-in key.

import { readEvents } from "./sse.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error) {
      return new ApiError(response.status, body.error.code, body.error.message);
    }
  } catch {
    // Not our envelope (a proxy's page, say): fall through to the status line.
  }
  const code = response.status === 404 ? "not_found" : "http_error";
  return new ApiError(response.status, code, `${response.status} ${response.statusText}`);
}

export class Api {
  /** onUnauthorized runs when the server rejects the key (revoked, say). */
  constructor(key, onUnauthorized = () => {}) {
    this.key = key;
    this.onUnauthorized = onUnauthorized;
  }

  async send(method, path, body, signal) {
    const headers = { authorization: `Bearer ${this.key}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "network_error", "The server cannot be reached.");
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (error.status === 401) this.onUnauthorized(error);
      throw error;
    }
    return response;
  }

  async json(method, path, body) {
    return (await this.send(method, path, body)).json();
  }

  get(path) { return this.json("GET", path); }
  post(path, body) { return this.json("POST", path, body); }
  patch(path, body) { return this.json("PATCH", path, body); }
  delete(path) { return this.json("DELETE", path); }

  /** GET that answers null when the endpoint does not exist on this server (yet). */
  async optional(path) {
    try {
      return await this.get(path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    }
  }

  /** POST /v1/chat with stream: true; yields {event, data} as the server sends them. */
  async *chat(body, signal) {
    const response = await this.send("POST", "/v1/chat", { ...body, stream: true }, signal);
    yield* readEvents(response);
  }
}
