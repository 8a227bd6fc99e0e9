"""Comic lettering and page fill: caption boxes, speech balloons, CJK and emoji, full pages."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from pypdf import PdfReader

from storyboard_app.export import PageSetup, PdfOptions, export_pdf, parse_page_size
from storyboard_app.export.comic_layouts import comic_pages, strip_pages
from storyboard_app.export.fonts import BOLD, CJK, EMOJI, REGULAR, draw_text, font_runs
from storyboard_app.export.layout_common import content_rect
from storyboard_app.export.lettering import panel_lettering, speech_lines
from storyboard_app.export.page_items import (
    NARRATION_FILL,
    WHITE,
    PanelArt,
    Rect,
    Shape,
    TextLine,
)
from storyboard_app.export.page_setup import default_paper, paper_for_locale
from storyboard_app.export.pdf import preview_pages
from storyboard_app.export.story import ExportPanel, Story
from storyboard_app.project.store import ProjectStore

FRAME = Rect(100.0, 200.0, 240.0, 135.0)
CJK_NARRATION = "夜明け前、灯台はまだ光っている。"
CJK_SPEECH = "Mara: 你好，世界！ 안녕하세요 🌊"


def panel(number: int = 1, caption: str = "", dialogue: str = "", **more: object) -> ExportPanel:
    fields: dict[str, object] = {
        "scene_id": number,
        "number": number,
        "prompt": "[Mara] waits",
        "caption": caption,
        "notes": "",
        "shot_type": "",
        "duration": 1.0,
        "characters": ("Mara",),
        "media": None,
        "image_size": (160, 90),
        "dialogue": dialogue,
    }
    fields.update(more)
    return ExportPanel(**fields)  # type: ignore[arg-type]


def inside(rect_points: tuple[tuple[float, float], ...], frame: Rect) -> bool:
    return all(
        frame.x - 0.01 <= x <= frame.right + 0.01 and frame.y - 0.01 <= y <= frame.bottom + 0.01
        for x, y in rect_points
    )


def texts_in(items: list, shape: Shape) -> list[str]:
    xs = [x for x, _ in shape.points]
    ys = [y for _, y in shape.points]
    return [
        item.text
        for item in items
        if isinstance(item, TextLine)
        and min(ys) <= item.y <= max(ys)
        and min(xs) <= item.x <= max(xs)
    ]


def test_narration_is_a_caption_box_and_each_line_of_dialogue_a_balloon() -> None:
    lettered = panel(caption="Midnight.", dialogue="Mara: Who is there?\nA voice: Only me.")
    items = panel_lettering(FRAME, lettered)
    shapes = [item for item in items if isinstance(item, Shape)]
    box, *balloons = shapes
    assert box.fill == NARRATION_FILL and box.points[0] == (FRAME.x, FRAME.y)
    assert len(box.points) == 4  # a rectangle flush with the corner
    assert texts_in(items, box) == ["Midnight."]
    assert [b.fill for b in balloons] == [WHITE, WHITE]
    assert all(len(b.points) > 20 for b in balloons)  # rounded, with a tail
    # Mara is the panel's character: her name goes, the tail says who speaks.
    assert texts_in(items, balloons[0]) == ["Who is there?"]
    assert texts_in(items, balloons[1]) == ["A voice: Only me."]
    tops = [min(y for _, y in shape.points) for shape in shapes]
    assert tops == sorted(tops)  # caption, then the balloons in reading order, downwards
    assert all(inside(shape.points, FRAME) for shape in shapes)


def test_speech_lines_drop_only_the_names_of_the_panels_characters() -> None:
    lines = speech_lines(panel(dialogue="Mara: Run!\n\nNote: not a name\nTom: Hi"))
    assert [(s.speaker, s.text) for s in lines] == [
        ("Mara", "Run!"),
        ("", "Note: not a name"),
        ("", "Tom: Hi"),
    ]


def test_much_dialogue_stays_inside_its_panel() -> None:
    crowded = panel(caption="A long night. " * 10, dialogue="\n".join(["Mara: Again?"] * 12))
    items = panel_lettering(FRAME, crowded)
    assert all(inside(item.points, FRAME) for item in items if isinstance(item, Shape))
    assert all(FRAME.y < item.y < FRAME.bottom for item in items if isinstance(item, TextLine))
    assert any(item.text.endswith("…") for item in items if isinstance(item, TextLine))


def test_lines_fall_back_to_the_cjk_and_emoji_faces() -> None:
    assert font_runs("Hi 灯台 🌊") == (
        (REGULAR, "Hi "),
        (CJK, "灯台"),
        (REGULAR, " "),
        (EMOJI, "🌊"),
    )
    assert font_runs("❤️ ok", bold=True)[0] == (EMOJI, "❤️")  # the selector stays with its emoji
    assert font_runs("Панель", bold=True) == ((BOLD, "Панель"),)


def ink(text: str, face_runs: bool) -> Image.Image:
    image = Image.new("L", (120, 40), 255)
    draw = ImageDraw.Draw(image)
    if face_runs:
        draw_text(draw, (4, 30), text, 24, "black")
    else:
        from storyboard_app.export.fonts import pil_font

        draw.text((4, 30), text, font=pil_font(24), fill="black", anchor="ls")
    return image


@pytest.mark.parametrize("text", ["灯台", "안녕", "🌊"])
def test_the_preview_draws_the_glyphs_not_missing_glyph_boxes(text: str) -> None:
    drawn, boxes = ink(text, True), ink(text, False)
    assert drawn.getextrema()[0] < 128  # something was drawn
    assert list(drawn.getdata()) != list(boxes.getdata())  # and not DejaVu's empty boxes


def cjk_board(store: ProjectStore) -> ProjectStore:
    store.rename("灯台")
    store.characters.add("Mara", "a woman")
    store.scenes.add("[Mara] waits", caption=CJK_NARRATION, dialogue=CJK_SPEECH)
    store.scenes.add("[NC] the sea", dialogue="🌊🌊 👋")
    return store


def test_cjk_and_emoji_lettering_is_embedded_and_extractable(
    store: ProjectStore, tmp_path: Path
) -> None:
    path = export_pdf(cjk_board(store), tmp_path / "comic.pdf", PdfOptions()).path
    reader = PdfReader(str(path))
    text = "".join(page.extract_text() for page in reader.pages)
    for words in (CJK_NARRATION, "你好，世界！", "안녕하세요", "🌊", "👋", "灯台"):
        assert words in text, words
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+")[-1]
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert {"StoryboardFallbackCJK-Regular", "StoryboardFallbackEmoji-Regular"} <= fonts


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_pdftotext_reads_the_cjk_and_emoji_lettering(store: ProjectStore, tmp_path: Path) -> None:
    path = export_pdf(cjk_board(store), tmp_path / "comic.pdf", PdfOptions()).path
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    for words in (CJK_NARRATION, "안녕하세요", "🌊"):
        assert words in text


def story_of(count: int, frame_size: tuple[int, int]) -> Story:
    panels = tuple(panel(n + 1, image_size=frame_size) for n in range(count))
    return Story("T", panels, (), frame_size, count * 24, 24)


def frames(items: list) -> list[Rect]:
    return [item.frame for item in items if isinstance(item, PanelArt)]


def assert_fills(items: list, area: Rect) -> None:
    """The panels reach from the top margin to the bottom one, or a lone row that would
    be cropped to a sliver to fill the page is centred on it."""
    boxes = frames(items)
    top, bottom = min(b.y for b in boxes), max(b.bottom for b in boxes)
    if len({b.y for b in boxes}) == 1 and top > area.y + 0.5:
        assert top - area.y == pytest.approx(area.bottom - bottom, abs=0.5)
        return
    assert top == pytest.approx(area.y, abs=0.5)
    assert bottom == pytest.approx(area.bottom, abs=0.5)


@pytest.mark.parametrize("count", range(1, 15))
@pytest.mark.parametrize("frame_size", [(1344, 768), (1024, 1024), (768, 1344)])
@pytest.mark.parametrize("landscape", [False, True])
def test_comic_pages_end_at_the_bottom_margin(
    count: int, frame_size: tuple[int, int], landscape: bool
) -> None:
    setup = PageSetup(landscape=landscape)
    area = content_rect(setup)
    for items in comic_pages(story_of(count, frame_size), setup, 0, captions=False):
        assert_fills(items, area)


def test_the_last_page_of_sixteen_by_nine_panels_fills_the_page() -> None:
    """Ten 16:9 panels on A4: six rows fit a page, the story has four; they filled only
    two thirds of it before the last page was laid out again."""
    setup = PageSetup()
    (items,) = comic_pages(story_of(10, (1344, 768)), setup, 0, captions=False)
    boxes = frames(items)
    assert max(b.bottom for b in boxes) == pytest.approx(content_rect(setup).bottom, abs=0.5)
    shapes = [b.w / b.h for b in boxes]
    assert all(abs(shape / (1344 / 768) - 1) < 0.25 for shape in shapes)  # little crop


@pytest.mark.parametrize("per_row", [1, 2, 3, 4])
def test_fixed_rows_spread_over_the_last_page(per_row: int) -> None:
    setup = PageSetup()
    area = content_rect(setup)
    for count in range(per_row + 1, 4 * per_row + 1):
        for items in comic_pages(story_of(count, (1344, 768)), setup, per_row, captions=False):
            assert_fills(items, area)


def test_strip_pages_share_the_strips_and_reach_the_bottom() -> None:
    setup = PageSetup()
    area = content_rect(setup)
    pages = strip_pages(story_of(4 * 6, (1344, 768)), setup, captions=False)
    per_page = [len(frames(items)) for items in pages]
    assert max(per_page) - min(per_page) <= 4  # no page with a lone strip
    for items in pages:
        assert max(b.bottom for b in frames(items)) == pytest.approx(area.bottom, abs=0.5)


@pytest.mark.parametrize(
    ("name", "paper"),
    [("en_US.UTF-8", "letter"), ("fr_CA", "letter"), ("es-MX", "letter"), ("en_GB.UTF-8", "a4")],
)
def test_paper_defaults_from_the_locale(name: str, paper: str) -> None:
    assert paper_for_locale(name) == paper
    assert parse_page_size(paper)


def test_default_paper_reads_the_c_library_variables() -> None:
    assert default_paper({"LANG": "en_US.UTF-8"}) == "letter"
    assert default_paper({"LC_PAPER": "de_DE.UTF-8", "LANG": "en_US.UTF-8"}) == "a4"
    assert default_paper({"LC_ALL": "en_CA", "LC_PAPER": "de_DE"}) == "letter"
    assert default_paper({}) == default_paper({"LANG": "C.UTF-8"}) == "a4"


def test_any_page_can_be_previewed(board: ProjectStore) -> None:
    options = PdfOptions(layout="single")
    first = preview_pages(board, options, 0, dpi=24)
    third = preview_pages(board, options, 2, dpi=24)
    past = preview_pages(board, options, 99, dpi=24)
    assert (first.count, third.index, past.index) == (5, 2, 4)
    assert first.image.tobytes() != third.image.tobytes()
    assert dataclasses.astuple(past)[1:] == (4, 5)
