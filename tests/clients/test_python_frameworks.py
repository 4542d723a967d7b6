"""LangChain and pydantic-ai, as applications build agents with them, on every dialect."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.clients.conftest import Target


class City(BaseModel):
    name: str
    country: str
    population: int


CITY_SCHEMA: dict[str, Any] = {
    "title": "City", "type": "object",
    "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
    "required": ["name", "country"]}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny, 21 degrees in {city}"


def chat_model(target: Target) -> ChatOpenAI:
    return ChatOpenAI(model=target.model, base_url=target.base_url, api_key=target.key,
                      max_retries=0, timeout=60)


def test_langchain_bind_tools_and_a_round_trip(target: Target) -> None:
    model = chat_model(target).bind_tools([get_weather], tool_choice="get_weather")
    question = HumanMessage("What is the weather in Paris?")
    asked = model.invoke([question])
    assert asked.tool_calls and asked.tool_calls[0]["name"] == "get_weather"
    call = asked.tool_calls[0]
    result = get_weather.invoke(call["args"])
    answered = chat_model(target).bind_tools([get_weather]).invoke(
        [question, asked, ToolMessage(result, tool_call_id=call["id"])])
    assert not answered.tool_calls
    assert result in str(answered.content)


@pytest.mark.parametrize("method", ["function_calling", "json_schema"])
def test_langchain_structured_output_into_a_pydantic_model(target: Target, method: str) -> None:
    found = chat_model(target).with_structured_output(City, method=method).invoke(
        "Describe Paris")
    assert isinstance(found, City)


def test_langchain_structured_output_in_json_mode(target: Target) -> None:
    """json_mode sends no schema, so the answer is any JSON object, parsed as a dict."""
    found = chat_model(target).with_structured_output(CITY_SCHEMA, method="json_mode").invoke(
        "Describe Paris as a JSON object with name and country")
    assert isinstance(found, dict)


def test_pydantic_ai_runs_a_tool_and_returns_its_output_type(target: Target) -> None:
    provider = OpenAIProvider(base_url=target.base_url, api_key=target.key)
    agent = Agent(OpenAIChatModel(target.model, provider=provider), output_type=City,
                  retries=2)
    looked_up: list[str] = []

    @agent.tool_plain
    def city_population(city: str) -> int:
        """The population of a city."""
        looked_up.append(city)
        return 2_100_000

    result = agent.run_sync("Describe Paris, with its population")
    assert isinstance(result.output, City)
    assert looked_up, "the agent's tool was called"
