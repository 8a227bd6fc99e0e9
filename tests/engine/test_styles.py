"""Named styles: shipped templates, a validated project setting, applied and recorded."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from support import run_cli

from storyboard_app.engine.loading import LoadedPipeline, load_text_to_image_pipeline
from storyboard_app.engine.project_render import (
    build_render_request,
    render_scenes,
    rerender_request,
)
from storyboard_app.engine.story_renderer import StoryRenderer
from storyboard_app.project.errors import ScriptError, ValidationError
from storyboard_app.project.scripts.toml_format import dump_story_toml, parse_story_toml
from storyboard_app.project.settings import ProjectSettings
from storyboard_app.project.staleness import settings_signature
from storyboard_app.project.store import ProjectStore
from storyboard_app.project.story import export_story, import_story
from storyboard_app.project.styles import NO_STYLE, PROMPT_SLOT, find_style, load_styles

OFFICIAL_SET = (
    "none",
    "cinematic",
    "photographic",
    "comic-book",
    "line-art",
    "anime",
    "digital-painting",
    "oil-painting",
    "3d-animation",
    "film-noir",
    "isometric",
)


@pytest.fixture(scope="module")
def loaded(tiny_sdxl_dir: Path) -> LoadedPipeline:
    return load_text_to_image_pipeline(str(tiny_sdxl_dir), device="cpu")


@pytest.fixture
def story(tmp_path: Path, tiny_sdxl_dir: Path) -> ProjectStore:
    store = ProjectStore.create(tmp_path / "story")
    store.update_settings(
        model_source=str(tiny_sdxl_dir), width=64, height=64, steps=2, identity_images=2
    )
    store.characters.add("Mara", "a woman with red hair", negative_prompt="hat", seed=11)
    store.scenes.add("[Mara] climbs the stairs", negative_prompt="blurry")
    store.scenes.add("[NC] a storm over the sea")
    yield store
    store.close()


def test_the_shipped_styles_cover_the_official_set_and_hold_the_prompt() -> None:
    styles = load_styles()
    assert tuple(styles) == OFFICIAL_SET
    for style in styles.values():
        assert style.positive.count(PROMPT_SLOT) == 1, style.name
    assert find_style(NO_STYLE).apply("a cat") == "a cat"
    assert find_style("anime").apply("a cat").startswith("anime illustration, a cat,")


def test_an_unknown_style_is_refused_with_the_names() -> None:
    with pytest.raises(ValidationError) as refused:
        ProjectSettings(style="vaporwave")
    assert "'vaporwave' is not a style" in refused.value.message
    assert "film-noir" in refused.value.hint


def test_a_style_changes_the_settings_signature() -> None:
    plain = ProjectSettings()
    assert settings_signature(plain) != settings_signature(plain.with_changes(style="anime"))


def test_style_wraps_panel_and_identity_prompts_and_keys_the_cache(
    story: ProjectStore, loaded: LoadedPipeline
) -> None:
    renderer = StoryRenderer(loaded)
    plain = build_render_request(story)
    story.update_settings(style="film-noir")
    styled = build_render_request(story)
    noir = find_style("film-noir")
    assert styled.panels[0].prompt == noir.apply(plain.panels[0].prompt)
    assert styled.panels[0].negative_prompt == f"blurry, hat, {noir.negative}"
    assert styled.characters[0].identity_prompts == tuple(
        noir.apply(p) for p in plain.characters[0].identity_prompts
    )
    assert styled.characters[0].negative_prompt == "hat"  # the character's own, unstyled
    key_plain = renderer.identity_cache_file(plain, "Mara")
    key_styled = renderer.identity_cache_file(styled, "Mara")
    assert key_plain != key_styled
    assert (
        renderer.identity_cache_file(dataclasses.replace(plain, style="none"), "Mara") == key_plain
    )

    takes = render_scenes(story, renderer, dataclasses.replace(styled, panels=styled.panels[:1]))
    take = story.takes.get(takes[0].id)
    assert take.params.style == "film-noir"
    assert take.params.prompt == styled.panels[0].prompt
    story.update_settings(style="none")
    again = rerender_request(story, take.id)
    assert again.style == "film-noir"
    assert renderer.identity_cache_file(again, "Mara") == key_styled


def test_cli_sets_lists_and_refuses_styles(story: ProjectStore, capsys) -> None:
    folder = story.folder
    story.close()
    code, out, err = run_cli(capsys, "settings", folder, "--set", "style=anime")
    assert code == 0, err
    assert "anime" in out
    code, out, err = run_cli(capsys, "settings", folder, "--set", "style=glitter")
    assert code == 1
    assert "'glitter' is not a style" in err and "comic-book" in err and "Traceback" not in err
    code, out, _ = run_cli(capsys, "styles")
    assert code == 0 and "film-noir" in out and "negative:" in out
    code, out, _ = run_cli(capsys, "styles", "--json")
    assert [entry["name"] for entry in json.loads(out)] == list(OFFICIAL_SET)
    with ProjectStore.open(folder) as reopened:
        assert reopened.settings().style == "anime"


def test_style_round_trips_through_a_toml_script(story: ProjectStore, tmp_path: Path) -> None:
    story.update_settings(style="isometric")
    text = dump_story_toml(export_story(story, tmp_path))
    assert 'style = "isometric"' in text
    with ProjectStore.create(tmp_path / "copy") as copy:
        import_story(copy, parse_story_toml(text))
        assert copy.settings().style == "isometric"
    with pytest.raises(ScriptError, match="not a style"):
        parse_story_toml(text.replace('style = "isometric"', 'style = "sparkly"'))


def test_the_shot_type_leads_the_panel_prompt_and_the_take_records_it(
    story: ProjectStore, loaded: LoadedPipeline
) -> None:
    first = story.scenes.list()[0]
    story.scenes.update(first.id, shot_type="close-up")
    request = build_render_request(story, [first.id])
    assert request.panels[0].prompt == "close-up shot, a woman with red hair climbs the stairs"
    assert all("shot" not in p for p in request.characters[0].identity_prompts)
    takes = render_scenes(story, StoryRenderer(loaded), request)
    assert story.takes.get(takes[0].id).params.prompt.startswith("close-up shot, ")
    story.update_settings(shot_in_prompt=False)
    plain = build_render_request(story, [first.id])
    assert plain.panels[0].prompt == "a woman with red hair climbs the stairs"
    assert rerender_request(story, takes[0].id).panels[0].prompt.startswith("close-up shot, ")
