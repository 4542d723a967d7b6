"""The chat doors' route class: a well-formed request goes straight to its handler.

FastAPI's request handler solves the route's dependencies and validates the body through
general machinery that cost about a tenth of a chat completion's CPU (bench/ab.py). For a route
of the shape `(request: Request, body: SomeBody, caller: Principal = Depends(principal))`,
`DirectRoute` reads the JSON body, resolves the caller and validates the body itself, in
FastAPI's order, and calls the handler. Anything else (a body that is not JSON, not valid, sent
without a JSON content type, or missing) is handed to FastAPI's own handler, so every refusal
is FastAPI's, word for word; the route's OpenAPI description is FastAPI's too.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from chorus.auth import principal

JSON_TYPES = frozenset({"application/json", "application/json; charset=utf-8"})
"""Content types taken directly (as clients send them); FastAPI's handler judges the rest."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class DirectRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        shape = _shape(self)
        if shape is None:
            return general
        model, body_name, caller_name, request_name = shape
        endpoint = self.endpoint

        async def direct(request: Request) -> Response:
            content_type = request.headers.get("content-type")
            if content_type is None or content_type.lower() not in JSON_TYPES:
                return await general(request)
            body = await request.body()
            if not body:
                return await general(request)
            try:
                data = json.loads(body)  # as FastAPI parses it (orjson reads big integers
            except Exception:  # as floats); not JSON, too deep (RecursionError): FastAPI's word
                return await general(request)
            caller = await principal(request)  # FastAPI's order: the caller, then the body
            try:
                parsed = model.model_validate(data)
            except ValidationError:
                return await general(request)  # FastAPI's words for what is wrong
            response = await endpoint(**{request_name: request, body_name: parsed,
                                         caller_name: caller})
            if not isinstance(response, Response):
                raise TypeError(f"{self.path}: a direct route's handler returns a Response")
            return response

        return direct


def _shape(route: APIRoute) -> tuple[type[BaseModel], str, str, str] | None:
    """The body model and the names of the body, caller and request parameters, when the
    route is one `DirectRoute` can call directly; else None."""
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
