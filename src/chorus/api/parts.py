"""OpenAI's request shapes that several front doors take: content parts with images, function
tools, tool choice, response formats and the sampling fields; each read into Chorus's types.

Every check here names the field it refuses (`param`), in the spelling of the request.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field

from chorus.api import RequestBody
from chorus.errors import InvalidRequest
from chorus.modes import Sampling
from chorus.modes.base import ClientTools
from chorus.modes.structured import check_schema
from chorus.types import ImagePart, OutputFormat, ToolChoice, ToolSpec

MAX_IMAGE_BYTES = 20_000_000
"""The largest image accepted inline (decoded), as OpenAI's own limit."""
MAX_IMAGE_URL_CHARS = 4096
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
DATA_URL = re.compile(r"^data:(image/[a-z0-9.+-]+);base64,", re.IGNORECASE)


class ImageURL(RequestBody):
    url: str = Field(min_length=1)
    detail: Literal["auto", "low", "high"] | None = None


class ContentPart(RequestBody):
    """A part of a message's content: `text`, or `image_url`."""

    type: str = Field(max_length=40)
    text: str | None = None
    image_url: ImageURL | None = None


class FunctionIn(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(None, max_length=100_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolIn(RequestBody):
    type: Literal["function"]
    function: FunctionIn


class NamedFunction(RequestBody):
    name: str = Field(min_length=1, max_length=64)


class NamedTool(RequestBody):
    type: Literal["function"]
    function: NamedFunction


class JSONSchemaIn(RequestBody):
    name: str = Field(min_length=1, max_length=64)
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None
    description: str | None = None


class ResponseFormat(RequestBody):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JSONSchemaIn | None = None


class SamplingFields(RequestBody):
    """The sampling fields of OpenAI's Chat Completions, as the native endpoint takes them too."""

    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    max_tokens: int | None = Field(None, ge=1, le=1_000_000)
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    stop: str | Annotated[list[str], Field(max_length=4)] | None = Field(
        None, description="one stop string or a list of up to four")
    user: str | None = Field(None, max_length=256)

    def sampling(self, max_tokens: int | None = None, logprobs: bool | None = None,
                 top_logprobs: int | None = None) -> Sampling:
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        return Sampling(temperature=self.temperature, max_tokens=max_tokens or self.max_tokens,
                        stop=stop or None, top_p=self.top_p, seed=self.seed,
                        presence_penalty=self.presence_penalty,
                        frequency_penalty=self.frequency_penalty, logprobs=logprobs,
                        top_logprobs=top_logprobs, user=self.user)


def image_of(url: str, detail: Literal["auto", "low", "high"] | None, where: str,
             param: str) -> ImagePart:
    """An image the client gave: an https URL (never fetched here) or a base64 data URL."""
    if url.startswith("data:"):
        found = DATA_URL.match(url)
        if found is None:
            raise InvalidRequest(f"{where}: a data URL must be data:image/<type>;base64,<data>",
                                 param=param)
        data = url[found.end():]
        if len(data) * 3 // 4 > MAX_IMAGE_BYTES:
            raise InvalidRequest(f"{where}: the image is larger than {MAX_IMAGE_BYTES:,} bytes",
                                 param=param)
        # Only the start is read: cheap on megabytes, and it catches what is not base64.
        if not data or not BASE64.fullmatch(data[:4096]):
            raise InvalidRequest(f"{where}: the data URL's base64 is malformed", param=param)
        return ImagePart(f"data:{found.group(1).lower()};base64,{data}", detail)
    if not url.startswith("https://") or len(url) > MAX_IMAGE_URL_CHARS or " " in url \
            or len(url) <= len("https://"):
        raise InvalidRequest(f"{where}: an image is an https: URL (at most "
                             f"{MAX_IMAGE_URL_CHARS} characters) or a data: URL", param=param)
    return ImagePart(url, detail)


def content_of(content: str | list[ContentPart] | None, where: str, param: str
               ) -> tuple[str, tuple[ImagePart, ...]]:
    """A message's text and its images; an unknown part type is a 400 naming `param`."""
    if content is None or isinstance(content, str):
        return content or "", ()
    texts: list[str] = []
    images: list[ImagePart] = []
    for index, part in enumerate(content):
        at = f"{where}[{index}]"
        if part.type == "text":
            texts.append(part.text or "")
        elif part.type == "image_url" and part.image_url is not None:
            images.append(image_of(part.image_url.url, part.image_url.detail, at, param))
        else:
            raise InvalidRequest(f"{at}: content parts are text or image_url, not "
                                 f"{part.type!r}", param=param)
    return "\n".join(texts), tuple(images)


def tool_spec(name: str, description: str | None, parameters: dict[str, Any] | None,
              strict: bool | None, param: str) -> ToolSpec:
    """A function tool; its name and its parameters' schema are checked."""
    if not TOOL_NAME.match(name):
        raise InvalidRequest(f"{param}: a tool name is 1 to 64 letters, digits, _ or -, not "
                             f"{name!r}", param=param)
    schema = parameters if parameters is not None else {"type": "object", "properties": {}}
    check_schema(schema, param)
    if schema.get("type", "object") != "object":
        raise InvalidRequest(f"{param}: a tool's parameters are a JSON Schema of type object",
                             param=param)
    return ToolSpec(name, description or "", schema, strict)


def client_tools(tools: list[ToolSpec], choice: ToolChoice | None, parallel: bool | None,
                 param: str = "tools", choice_param: str = "tool_choice"
                 ) -> ClientTools | None:
    """The request's tools with its choice; a choice naming no offered tool is a 400."""
    names = [t.name for t in tools]
    if len(set(names)) != len(names):
        raise InvalidRequest(f"{param}: two tools have the same name", param=param)
    if not tools:
        if choice is not None and choice.kind in ("required", "function"):
            raise InvalidRequest(f"{choice_param}: no tools are offered", param=choice_param)
        return None
    if choice is not None and choice.kind == "function" and choice.name not in names:
        raise InvalidRequest(f"{choice_param}: no tool named {choice.name!r} is offered",
                             param=choice_param)
    return ClientTools(tuple(tools), choice, parallel)


def openai_tools(tools: list[ToolIn] | None, choice: str | NamedTool | None,
                 parallel: bool | None) -> ClientTools | None:
    """Chat Completions' `tools`, `tool_choice` and `parallel_tool_calls`."""
    specs = [tool_spec(t.function.name, t.function.description, t.function.parameters,
                       t.function.strict, f"tools[{i}].function")
             for i, t in enumerate(tools or ())]
    return client_tools(specs, choice_of(choice), parallel)


CHOICES: dict[str, ToolChoice] = {"auto": ToolChoice("auto"), "none": ToolChoice("none"),
                                  "required": ToolChoice("required")}


def choice_of(choice: str | NamedTool | None) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, NamedTool):
        return ToolChoice("function", choice.function.name)
    if choice in CHOICES:
        return CHOICES[choice]
    raise InvalidRequest("tool_choice: auto, none, required, or "
                         '{"type": "function", "function": {"name": …}}', param="tool_choice")


def output_of(kind: Literal["text", "json_object", "json_schema"],
              schema: JSONSchemaIn | None, param: str) -> OutputFormat | None:
    """A response format: None for text; json_schema needs its schema, checked here."""
    if kind == "text":
        return None
    if kind == "json_object":
        return OutputFormat("json_object")
    if schema is None or schema.schema_ is None:
        raise InvalidRequest(f"{param}: json_schema needs a schema", param=param)
    check_schema(schema.schema_, param)
    return OutputFormat("json_schema", schema.schema_, schema.name, schema.strict,
                        schema.description)
