"""The floor of Chorus's serving stack: a bare proxy on it, measured beside Chorus and the peers.

    PYTHONPATH=src .venv/bin/python bench/floor.py --seconds 8 --rounds 2 --concurrency 64
    PYTHONPATH=src .venv/bin/python bench/floor.py --peers portkey,tensorzero

The proxy does what every chat completion through Chorus does and nothing else: uvicorn with
`chorus serve`'s options (its protocol with the request deadlines and connection cap, uvloop,
httptools, no uvicorn access log), the body read and parsed with orjson, one call to fake-llm
through Chorus's HTTP client, and the answer parsed and rendered again as a chat completion (a
stream is passed through as it comes). No key, rate limit, validation, session, mode, router,
usage record, metric or access line. Its CPU per request is where any feature set on this stack
starts; Chorus's minus it is the cost of Chorus's own work (bench/notes.md, 2026-12-05).

Every target runs pinned to CPU 0 like the gateway section, fake-llm and the load on CPU 1, in
interleaved rounds (`bench.gateway.measure`) after two seconds of warming up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.gateway import (  # noqa: E402
    LOAD_CPU,
    PEERS,
    Target,
    can_pin,
    measure,
    measured,
    on_cpu,
    pinned,
    targets,
)
from bench.procs import Server, fake_llm, free_port  # noqa: E402


def proxy(upstream: str) -> Any:
    """The bare proxy's ASGI app, calling `upstream` (fake-llm's base URL)."""
    import orjson

    from chorus.httpclient.client import Client

    url = upstream + "/v1/chat/completions"
    json_head = [(b"content-type", b"application/json")]
    clients: list[Client] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                clients.append(Client())
                await send({"type": "lifespan.startup.complete"})
            await clients[0].aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": json_head})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        question = orjson.loads(body)
        question["model"] = "small"
        if question.get("stream"):
            async with clients[0].stream("POST", url, timeouts=30.0, body=orjson.dumps(question),
                                         headers={"content-type": "application/json"}) as up:
                await send({"type": "http.response.start", "status": up.status_code,
                            "headers": [(b"content-type", b"text/event-stream")]})
                async for chunk in up.aiter_bytes():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        answer = orjson.loads((await clients[0].request("POST", url, timeouts=30.0,
                                                        json=question)).content)
        rendered = {"id": answer["id"], "object": "chat.completion", "created": int(time.time()),
                    "model": "fake-small", "choices": answer["choices"],
                    "usage": answer["usage"]}
        await send({"type": "http.response.start", "status": 200, "headers": json_head})
        await send({"type": "http.response.body", "body": orjson.dumps(rendered)})

    return app


def serve_proxy(port: int, upstream: str) -> None:
    """In the proxy's process: serve it as `chorus serve` serves Chorus."""
    import uvicorn

    from chorus import serving
    from chorus.config import load_settings

    settings = load_settings()
    uvicorn.run(proxy(upstream), host="127.0.0.1", port=port, log_level=settings.log_level,
                access_log=False, log_config=None, **serving.uvicorn_options(settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--peers", default="portkey",
                        help=f"comma-separated, of {','.join(PEERS)}; empty for none")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "UPSTREAM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_proxy(int(args.serve[0]), args.serve[1])
        return
    peers = tuple(p for p in args.peers.split(",") if p)
    if unknown := set(peers) - set(PEERS):
        parser.error(f"--peers: unknown {', '.join(sorted(unknown))}")
    pin = can_pin()
    with tempfile.TemporaryDirectory(prefix="chorus-floor-") as tmp, \
            on_cpu(LOAD_CPU if pin else None):
        work = Path(tmp)
        with fake_llm(work / "fake.log") as fake:
            port = free_port()
            floor = Server("floor", pinned([sys.executable, __file__, "--serve", str(port),
                                            fake.url], pin),
                           port, env={"PYTHONPATH": os.pathsep.join(sys.path)},
                           ready_path="/healthz", log=work / "floor.log")
            everyone = targets(work, fake, peers, pin)
            chosen = {"direct": everyone.pop("direct"),
                      "floor": Target(floor, "/v1/chat/completions", "fake-small"), **everyone}
            try:
                for target in chosen.values():
                    if target.server is not fake:
                        target.server.start()
                        measured(target, False, 64, 2)  # warm: Node compiles as it goes
                results = measure(chosen, args.seconds,
                                  tuple(int(c) for c in args.concurrency.split(",")), args.rounds)
            finally:
                for target in chosen.values():
                    target.server.stop()
    print("\nCPU per request in ms, requests/s, and p50 over fake-llm's own in ms (the median of "
          "the rounds); Chorus's own work is Chorus's CPU minus the floor's")
    for key in (k for k in results["floor"] if "/" in k):  # type: ignore[attr-defined]
        cells = {name: results[name][key] for name in chosen}  # type: ignore[index]
        direct = cells.pop("direct")
        own = cells["chorus"]["cpu_ms_per_request"] - cells["floor"]["cpu_ms_per_request"]
        print(f"  {key:11} " + "  ".join(
            f"{name} {cell['cpu_ms_per_request']:.3f} {cell['rps']:,.0f} "
            f"+{cell['p50_ms'] - direct['p50_ms']:.2f}" for name, cell in cells.items())
              + f"  Chorus's own {own:.3f}")


if __name__ == "__main__":
    main()
