"""Fixtures of the front-door tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from chorus.app import create_app
from chorus.config import load_settings
from tests.conftest import ServerThread, new_key


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Chorus on a real socket with its simulated models answering at once: its URL and a
    power-tier test key, for a module's client tests."""
    database_url = f"sqlite:///{tmp_path_factory.mktemp('quick')}/chorus.db"
    app = create_app(load_settings(None, database_url=database_url, simulated_speed=0))
    with ServerThread(app) as live:
        yield live.url, asyncio.run(new_key(database_url, "power", True))
