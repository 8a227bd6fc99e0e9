"""The Action field's token count: the real CLIP tokenizer, the cut struck through, the shot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.tags import expand_tags
from storyboard_app.ui.main_window import MainWindow
from storyboard_app.worker import prompt_tokens
from storyboard_app.worker.host import EngineHost
from storyboard_app.worker.prompt_tokens import (
    CLIP_LIMIT,
    ClipTokenCounter,
    estimate_tokens,
    load_counter,
    tokenizer_folder,
)

LOAD_TIMEOUT_MS = 60_000
LONG_ACTION = "[Mara] climbs the spiral stairs of the old lighthouse at dusk, " * 6


def fields_of(window: MainWindow, number: int) -> Any:
    workspace = window.workspace
    assert workspace is not None
    workspace.storyboard.select_scenes([workspace.store.scenes.at(number).id])
    return workspace.inspector.fields


def test_the_shipped_clip_tokenizer_cuts_where_diffusers_does() -> None:
    counter = load_counter("")
    assert counter is not None and counter.limit == CLIP_LIMIT
    assert counter.count("a woman").tokens == 4  # start, "a", "woman", end
    text = "close-up shot, a lighthouse keeper climbs the stairs at dusk, " * 8
    count = counter.count(text)
    assert count.over and count.kept_chars is not None
    kept = counter.count(text[: count.kept_chars])
    assert kept.tokens == CLIP_LIMIT and not kept.over
    guess = estimate_tokens(text)
    assert not guess.exact and abs(guess.tokens - count.tokens) <= count.tokens * 0.2


def test_the_count_is_exact_and_the_cut_is_struck_through(qtbot: Any, opened: MainWindow) -> None:
    fields = fields_of(opened, 1)
    qtbot.waitUntil(lambda: fields.budget.counter is not None, timeout=LOAD_TIMEOUT_MS)
    short = fields.budget.recount()
    assert short is not None and short.exact and not short.over
    assert fields.token_meter.text() == f"{short.tokens} / 77 tokens"
    assert "a young woman with short red hair" in fields.token_meter.toolTip()
    assert fields.prompt.extraSelections() == []
    fields.prompt.setPlainText(LONG_ACTION)
    qtbot.waitUntil(lambda: fields.budget.last is not None and fields.budget.last.over)
    assert "struck-through words are cut" in fields.token_meter.text()
    (cut,) = fields.prompt.extraSelections()
    assert cut.format.fontStrikeOut()
    assert cut.cursor.selectionEnd() == len(LONG_ACTION)
    sent = fields.budget.sent_prompt()
    kept_text = sent.text[: fields.budget.last.kept_chars]
    assert fields.budget.counter.count(kept_text).tokens == CLIP_LIMIT
    # What stays unstruck reaches the encoder whole; the struck part begins where the
    # encoder stops (here inside Mara's description, so her tag is struck).
    start = cut.cursor.selectionStart()
    descriptions = {c.name: c.description for c in opened.workspace.store.characters.list()}
    assert expand_tags(LONG_ACTION[:start], descriptions) in kept_text
    assert LONG_ACTION[start:].startswith("[Mara]")
    fields.prompt.setPlainText("[Mara] waves")
    qtbot.waitUntil(lambda: not fields.budget.last.over)
    assert fields.prompt.extraSelections() == []


def test_without_a_tokenizer_the_count_says_it_is_an_estimate(
    qtbot: Any, make_window: Any, fake_host: EngineHost, story_store: ProjectStore, monkeypatch: Any
) -> None:
    monkeypatch.setattr(prompt_tokens, "TOKENIZER_MODULE", "no_tokenizer_library_here")
    monkeypatch.setattr(prompt_tokens, "_cache", {})
    story_store.update_settings(model_source="fake")
    window = make_window(fake_host)
    assert window.open_project(story_store.folder)
    fields = fields_of(window, 1)
    qtbot.wait(200)
    assert fields.budget.counter is None
    assert fields.token_meter.text().endswith("tokens (estimate)")
    assert "estimated" in fields.token_meter.toolTip()


def test_the_shot_type_is_counted_and_the_setting_leaves_it_out(
    qtbot: Any, run_async: Any, opened: MainWindow
) -> None:
    fields = fields_of(opened, 4)  # a wide shot
    assert fields.budget.sent_prompt().text.startswith("wide shot, ")
    before = fields.budget.recount().tokens
    dialog = opened.open_settings()
    assert dialog is not None and dialog.shot_in_prompt.isChecked()
    run_async(dialog.detect_gpu())
    dialog.shot_in_prompt.setChecked(False)
    dialog.accept()
    store = opened.workspace.store
    qtbot.waitUntil(lambda: store.settings().shot_in_prompt is False)
    fields = fields_of(opened, 4)
    assert not fields.budget.sent_prompt().text.startswith("wide shot")
    assert fields.budget.recount().tokens == before - 3  # "wide", "shot", ","
    opened.workspace.session.undo_stack.undo()
    assert store.settings().shot_in_prompt is True


def test_a_model_folder_or_a_shipped_model_counts_with_its_own_tokenizer(tmp_path: Path) -> None:
    shipped = tokenizer_folder("")
    assert shipped.parts[-3:] == ("pipeline_configs", "sdxl", "tokenizer")
    folder = tmp_path / "model"
    (folder / "tokenizer").mkdir(parents=True)
    for name in ("vocab.json", "merges.txt"):
        (folder / "tokenizer" / name).write_bytes((shipped / name).read_bytes())
    assert tokenizer_folder(str(folder)) == folder / "tokenizer"
    assert tokenizer_folder(str(tmp_path / "model.safetensors")) == shipped
    if (resources_dir() / "models" / "toy" / "tokenizer" / "vocab.json").is_file():
        assert tokenizer_folder("toy") == resources_dir() / "models" / "toy" / "tokenizer"


def test_the_counter_tokenizes_a_prompt_once_while_other_fields_change() -> None:
    """The inspector counts the Action field again after every edit of the panel."""
    tokenizer = load_counter("")._tokenizer
    calls: list[str] = []

    def counting(text: str, **options: Any) -> Any:
        calls.append(text)
        return tokenizer(text, **options)

    counter = ClipTokenCounter(counting)
    first = counter.count(LONG_ACTION)
    assert counter.count(LONG_ACTION) == first
    assert counter.count("a woman").tokens == 4
    assert calls == [LONG_ACTION, "a woman"]
