"""New from Story with the optional local model: asked off the UI thread, rules as fallback.

A real HTTP server on 127.0.0.1 (started and stopped here) plays the
OpenAI-compatible model; it answers after a delay so the test can see the UI
thread keep running while the request is out.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from storyboard_app.project.scripts.prose import parse_prose
from storyboard_app.ui import file_dialogs
from storyboard_app.ui.app_settings import AppSettings, LlmSettings
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.ui.story_draft_dialog import StoryDraftDialog
from storyboard_app.worker.host import EngineHost

STORY = "Mara climbs the hill. Mara waves. She smiles.\n"
ANSWER = {
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
MODEL_PROMPT = "[Mara] climbs a windy hill at dusk"


@pytest.fixture
def fake_model() -> Iterator[Callable[[float], str]]:
    """A server that answers ANSWER after ``delay`` seconds; returns its base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(delay: float) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                content = json.dumps(ANSWER)
                body = json.dumps({"choices": [{"message": {"content": content}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def story_file(tmp_path: Path) -> Path:
    story = tmp_path / "story.md"
    story.write_text(STORY)
    return story


def open_dialog(qtbot: Any, tmp_path: Path, settings: AppSettings) -> StoryDraftDialog:
    story = story_file(tmp_path)
    dialog = StoryDraftDialog(parse_prose(STORY, story), story=story, settings=settings)
    qtbot.addWidget(dialog)
    return dialog


def test_the_models_panels_replace_the_rules_while_the_ui_keeps_running(
    qtbot: Any, tmp_path: Path, app_settings: AppSettings, fake_model: Any
) -> None:
    app_settings.set_llm_settings(LlmSettings(fake_model(0.6), "tiny-llm", 10.0))
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    dialog = open_dialog(qtbot, tmp_path, app_settings)
    assert dialog.model_box is not None and dialog.model_box.running
    assert dialog.panels.rowCount() == 3  # the rules' draft shows at once
    assert "Asking tiny-llm" in dialog.model_box.status.text()
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=2000)
    assert dialog.model_box.running, "the UI thread ran events while the model was thinking"
    qtbot.waitUntil(lambda: dialog.panels.item(0, 0).text() == MODEL_PROMPT, timeout=5000)
    timer.stop()
    assert dialog.panels.rowCount() == 2
    assert dialog.panels.item(0, 2).text() == "Mara: Hello?"
    assert "cut by tiny-llm" in dialog.model_box.status.text()
    assert dialog.edited_script().scenes[1].characters == ()


def test_with_the_server_down_the_rules_stay_with_a_note(
    qtbot: Any, tmp_path: Path, app_settings: AppSettings
) -> None:
    url = closed_port_url()
    app_settings.set_llm_settings(LlmSettings(url, "tiny-llm", 5.0))
    dialog = open_dialog(qtbot, tmp_path, app_settings)
    assert dialog.model_box is not None
    qtbot.waitUntil(lambda: not dialog.model_box.running, timeout=5000)
    status = dialog.model_box.status.text()
    assert status.startswith(f"Note: the model at {url} could not be reached")
    assert status.endswith("the panels were cut by the rules instead")
    assert dialog.panels.rowCount() == 3 and dialog.panels.item(2, 0).text() == "[Mara] smiles."


def test_cancel_keeps_the_rules_and_ignores_the_late_answer(
    qtbot: Any, tmp_path: Path, app_settings: AppSettings, fake_model: Any
) -> None:
    app_settings.set_llm_settings(LlmSettings(fake_model(0.4), "tiny-llm", 10.0))
    dialog = open_dialog(qtbot, tmp_path, app_settings)
    assert dialog.model_box is not None
    dialog.model_box.cancel.click()
    assert "cancelled" in dialog.model_box.status.text() and dialog.model_box.ask.isEnabled()
    qtbot.wait(900)
    assert dialog.panels.rowCount() == 3 and "cancelled" in dialog.model_box.status.text()


def test_unset_model_is_not_asked_and_ask_saves_the_settings(
    qtbot: Any, tmp_path: Path, app_settings: AppSettings, fake_model: Any
) -> None:
    dialog = open_dialog(qtbot, tmp_path, app_settings)
    assert dialog.model_box is not None and not dialog.model_box.running
    dialog.model_box.ask.click()
    assert "Give the server's URL" in dialog.model_box.status.text()
    url = fake_model(0.0)
    dialog.model_box.url.setText(url)
    dialog.model_box.model.setText("tiny-llm")
    dialog.model_box.ask.click()
    assert app_settings.llm_settings() == LlmSettings(url, "tiny-llm", 60.0)
    qtbot.waitUntil(lambda: dialog.panels.item(0, 0).text() == MODEL_PROMPT, timeout=5000)


def test_a_bad_saved_timeout_is_the_default(settings_file: Any) -> None:
    settings_file.setValue("story_llm/timeout_s", "soon")
    assert AppSettings(settings_file).llm_settings().timeout_s == 60.0


def test_file_new_from_story_uses_the_configured_model(
    make_window: Any,
    fake_host: EngineHost,
    qtbot: Any,
    tmp_path: Path,
    app_settings: AppSettings,
    fake_model: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window: MainWindow = make_window(fake_host)
    app_settings.set_llm_settings(LlmSettings(fake_model(0.1), "tiny-llm", 10.0))
    monkeypatch.setattr(file_dialogs, "ask_new_project", lambda *_a: tmp_path / "tale.storyboard")

    def confirm(dialog: StoryDraftDialog) -> bool:
        qtbot.waitUntil(lambda: dialog.panels.item(0, 0).text() == MODEL_PROMPT, timeout=5000)
        dialog.accept()
        return True

    assert window.new_from_story(story_file(tmp_path), confirm)
    assert window.workspace is not None
    scenes = window.workspace.store.scenes.list()
    assert [s.dialogue for s in scenes] == ["Mara: Hello?", ""]
