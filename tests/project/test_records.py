"""Records: frozen to mypy, plain slotted dataclasses at run time (chorus/records.py)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from chorus.records import field_names
from chorus.serving import ServerLimits
from chorus.types import Message, ModelRequest

SRC = Path(__file__).resolve().parents[2] / "src"


def test_a_record_is_a_value_equal_and_hashed_by_its_fields() -> None:
    question = Message("user", "hi")
    assert question == Message("user", "hi") and hash(question) == hash(Message("user", "hi"))
    assert len({question, Message("user", "hi"), Message("user", "bye")}) == 2
    changed = replace(ModelRequest(messages=(question,)), temperature=0.2)
    assert changed.temperature == 0.2 and changed.messages == (question,)
    assert not hasattr(question, "__dict__"), "slots, as before"


def test_a_record_crosses_to_a_worker_process() -> None:
    limits = ServerLimits(1.0, 2.0, 3.0, 4)
    assert pickle.loads(pickle.dumps(limits)) == limits


def test_field_names_are_the_fields_in_order() -> None:
    assert field_names(ServerLimits) == ("header_timeout", "body_timeout",
                                         "keep_alive_timeout", "max_connections")


def test_mypy_refuses_an_assignment_to_a_field(tmp_path: Path) -> None:
    """The records' immutability is the type checker's: `./dev lint` runs mypy on src."""
    source = tmp_path / "assigns.py"
    source.write_text("from chorus.types import Message\n\n"
                      "Message('user', 'hi').content = 'changed'\n")
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), str(source)],
        capture_output=True, text=True, env={"MYPYPATH": str(SRC)}, check=False)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert 'Property "content" defined in "Message" is read-only' in checked.stdout
