"""The chat doors' fast lane: a well-formed request goes straight to its handler.

Routing a request through FastAPI (the router's match, the route's exit stacks and exception
wrapper, dependency solving, body validation) cost about a quarter of a chat completion's CPU
in the server (bench/ab.py). `DirectRoutes` sits at the router's entrance, inside every
middleware and the exception handlers. For a `POST` to a `DirectRoute` (a route of the shape
`(request: Request, body: SomeBody, caller: Principal = Depends(principal))`) it reads the
JSON body, resolves the caller and validates the body itself, in FastAPI's order, and calls
the handler. Anything else (a body that is not JSON, not valid, sent without a JSON content
type, or missing) goes through the router with its body replayed, so every refusal is
FastAPI's, word for word; the routes' OpenAPI description is FastAPI's too, and an error the
handler raises reaches the same exception handlers.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from chorus.api import STORABLE, storable_json
from chorus.api.middleware import header, read_body, replay
from chorus.auth import principal
from chorus.records import record

JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
"""Content types taken directly (as clients send them); FastAPI's handler judges the rest."""

Handler = Callable[..., Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    """A route `DirectRoutes` calls directly when it has the shape for it (see `_shape`)."""


@record
class Lane:
    route: DirectRoute
    """As the router sets it in the scope (the access log's route)."""
    endpoint: Handler
    model: type[BaseModel]
    body_name: str
    caller_name: str
    request_name: str


class DirectRoutes:
    """The router's innermost layer (`install`): the fast lane for the DirectRoutes' POSTs."""

    def __init__(self, router: ASGIApp, lanes: dict[str, Lane]) -> None:
        self.router = router
        self.lanes = lanes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = (self.lanes.get(scope["path"]) if scope["type"] == "http"
                and scope["method"] == "POST" and not scope.get("root_path") else None)
        if lane is None:
            await self.router(scope, receive, send)
            return
        content_type = header(scope, b"content-type")
        if content_type is None or content_type.lower() not in JSON_TYPES:
            await self.router(scope, receive, send)
            return
        body = await read_body(receive)
        request = Request(scope, replay(body, receive), send)  # its body() as if it read it
        try:
            data = json_body(body)
        except Exception:  # not JSON, too deep (RecursionError), empty: FastAPI's word
            await self.router(scope, replay(body, receive), send)
            return
        scope["route"], scope["endpoint"], scope["path_params"] = lane.route, lane.endpoint, {}
        caller = await principal(request)  # FastAPI's order: the caller, then the body
        try:
            parsed = lane.model.model_validate(
                data, context=STORABLE if storable_json(body) else None)
        except ValidationError:  # FastAPI's words for what is wrong
            await self.router(scope, replay(body, receive), send)
            return
        response = await lane.endpoint(**{lane.request_name: request, lane.body_name: parsed,
                                          lane.caller_name: caller})
        if not isinstance(response, Response):
            raise TypeError(f"{lane.route.path}: a direct route's handler returns a Response")
        await response(scope, receive, send)


def json_body(body: bytes) -> Any:
    """The body as FastAPI parses it (`json.loads`), read by orjson where orjson reads it the
    same: the benchmark's chat body took 9,900 instructions instead of 24,000 (bench/notes.md).
    orjson reads an integer past 64 bits as a float, so a body with a run of 19 digits is
    json's; what orjson refuses (NaN, Infinity, a lone surrogate, a byte-order mark, another
    encoding) json reads or refuses itself."""
    if body.translate(_DIGITS_AS_NINES).find(_LONG_NUMBER) < 0:  # find: see storable_json
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


_DIGITS_AS_NINES = bytes(57 if 48 <= byte <= 57 else 32 for byte in range(256))
_LONG_NUMBER = b"9" * 19
"""A run of 19 digits, found in the body with its digits made nines (a regular expression
took four times as long)."""


def install(router: APIRouter) -> None:
    """Put `DirectRoutes` at the entrance of a FastAPI app's `router` once its routes are in,
    through Starlette's hook for a router's own middleware."""
    lanes = {}
    for effective in _effective_routes(router.routes):
        lane = _lane(effective)
        if lane is not None:
            lanes[effective.path_format] = lane
    router.middleware_stack = DirectRoutes(router.middleware_stack, lanes)


def _effective_routes(routes: Iterable[BaseRoute]) -> Iterator[Any]:
    """Each route as the router serves it: an included router's routes with the prefix and
    dependencies of the inclusion (FastAPI's effective route contexts)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            yield from contexts()
        else:
            yield route


def _lane(effective: Any) -> Lane | None:
    """How to call a route directly, when it is a DirectRoute of the shape `DirectRoutes`
    handles; else None."""
    route = getattr(effective, "original_route", effective)
    if (not isinstance(route, DirectRoute) or effective.methods != {"POST"}
            or getattr(effective, "max_body_size", None) is not None):
        return None
    shape = _shape(effective)
    return None if shape is None else Lane(route, effective.endpoint, *shape)


def _shape(route: Any) -> tuple[type[BaseModel], str, str, str] | None:
    """The body model and the names of the body, caller and request parameters, when the
    route has the shape `(request: Request, body: SomeBody, caller = Depends(principal))`."""
    dependant = route.dependant
    if (len(dependant.body_params) != 1 or dependant.path_params or dependant.query_params
            or dependant.header_params or dependant.cookie_params
            or len(dependant.dependencies) != 1 or dependant.request_param_name is None
            or getattr(route, "_embed_body_fields", True)
            or not inspect.iscoroutinefunction(route.endpoint)):
        return None
    body, dependency = dependant.body_params[0], dependant.dependencies[0]
    model = body.field_info.annotation
    if (dependency.call is not principal or dependency.name is None
            or not (isinstance(model, type) and issubclass(model, BaseModel))
            or body.alias != body.name):
        return None
    return model, body.name, dependency.name, dependant.request_param_name
