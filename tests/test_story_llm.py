"""Prose cut by a local model, against a fake OpenAI-compatible server on 127.0.0.1.

Each failure the model can have (absent, slow, HTTP 500, not JSON, JSON that is not
a valid story) must fall back to the rules and say why; a good answer is used.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support import run_cli

from storyboard_app.engine.story_llm import LlmEndpoint, story_from_llm
from storyboard_app.project.scripts.model import CharacterSpec
from storyboard_app.project.store import ProjectStore

STORY = 'Mara climbs the hill. She stops at the gate.\n\n"Hello?" she called.\n'
CAST = (CharacterSpec("Mara", "a girl in a red coat"),)
GOOD = {
    "panels": [
        {
            "line": 1,
            "prompt": "Mara climbs a windy hill at dusk",
            "characters": ["Mara"],
            "dialogue": [{"speaker": "Mara", "text": "Hello?"}],
        },
        {"line": 1, "prompt": "an old iron gate", "characters": []},
    ]
}
NOT_NAMES = '{"panels": [{"prompt": "x", "characters": 3}]}'
Reply = Callable[[BaseHTTPRequestHandler, dict[str, Any]], None]


def completion(content: str) -> bytes:
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}}]}
    ).encode()


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def fake_model() -> Iterator[Callable[[Reply], str]]:
    """Starts a server that answers with the reply the test gives; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []
    threads: list[threading.Thread] = []
    requests: list[dict[str, Any]] = []

    def start(reply: Reply) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                requests.append({"path": self.path, "body": body})
                reply(self, body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    start.requests = requests  # type: ignore[attr-defined]
    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
    for thread in threads:
        thread.join(timeout=5)
        assert not thread.is_alive()


def test_a_good_answer_makes_the_panels(fake_model: Callable[[Reply], str]) -> None:
    url = fake_model(lambda h, _body: send(h, 200, completion(json.dumps(GOOD))))
    result = story_from_llm(STORY, LlmEndpoint(url, "tiny", 5), cast=CAST, panels=2)
    assert result.fallback_reason == ""
    assert [(s.prompt, s.characters, s.dialogue) for s in result.script.scenes] == [
        ("[Mara] climbs a windy hill at dusk", ("Mara",), "Mara: Hello?"),
        ("an old iron gate", (), ""),
    ]
    request = fake_model.requests[0]  # type: ignore[attr-defined]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["model"] == "tiny"
    user = request["body"]["messages"][1]["content"]
    assert "Cast: Mara" in user and "about 2 panels" in user and "1| Mara climbs" in user


def test_fenced_json_is_accepted(fake_model: Callable[[Reply], str]) -> None:
    url = fake_model(lambda h, _b: send(h, 200, completion(f"```json\n{json.dumps(GOOD)}\n```")))
    assert story_from_llm(STORY, LlmEndpoint(url, "m", 5), cast=CAST).fallback_reason == ""


def _slow(handler: BaseHTTPRequestHandler, _body: dict[str, Any]) -> None:
    time.sleep(1.0)
    send(handler, 200, completion(json.dumps(GOOD)))


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda h, _b: send(h, 500, b'{"error": "boom"}'), "answered HTTP 500"),
        (_slow, "did not answer within 0.3 s"),
        (lambda h, _b: send(h, 200, completion("Sure! Here are panels.")), "JSON asked for"),
        (lambda h, _b: send(h, 200, b"not json at all"), "JSON asked for"),
        (lambda h, _b: send(h, 200, completion('{"panels": []}')), "has no panels"),
        (
            lambda h, _b: send(h, 200, completion('{"panels": [{"prompt": "  "}]}')),
            "not a valid story",
        ),
        (
            lambda h, _b: send(
                h, 200, completion('{"panels": [{"prompt": "x", "characters": 3}]}')
            ),
            "not a list of names",
        ),
    ],
)
def test_every_model_failure_falls_back_to_the_rules(
    reply: Reply, reason: str, fake_model: Callable[[Reply], str]
) -> None:
    url = fake_model(reply)
    result = story_from_llm(STORY, LlmEndpoint(url, "m", 0.3), cast=CAST)
    assert reason in result.fallback_reason
    assert "cut by the rules instead" in result.fallback_reason
    assert [s.prompt for s in result.script.scenes] == [
        "[Mara] climbs the hill.",
        "[Mara] stops at the gate.",
    ]


def test_an_absent_server_falls_back() -> None:
    result = story_from_llm(STORY, LlmEndpoint("http://127.0.0.1:9/v1", "m", 2), cast=CAST)
    assert "could not be reached" in result.fallback_reason
    assert len(result.script.scenes) == 2


def test_cli_uses_the_model_and_notes_a_fallback(
    fake_model: Callable[[Reply], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = tmp_path / "story.md"
    story.write_text(STORY)
    good = fake_model(lambda h, _b: send(h, 200, completion(json.dumps(GOOD))))
    code, out, err = run_cli(
        capsys, "new", tmp_path / "a", "--from-prose", story, "--llm-url", good
    )
    assert (code, err) == (0, "") and "Note:" not in out
    with ProjectStore.open(tmp_path / "a.storyboard") as store:
        assert store.scenes.list()[0].prompt == "[Mara] climbs a windy hill at dusk"
    bad = fake_model(lambda h, _b: send(h, 500, b"{}"))
    code, out, err = run_cli(capsys, "new", tmp_path / "b", "--from-prose", story, "--llm-url", bad)
    assert code == 0 and "Note: the model at" in out and "HTTP 500" in out
    with ProjectStore.open(tmp_path / "b.storyboard") as store:
        assert store.scenes.list()[0].prompt == "Mara climbs the hill."
