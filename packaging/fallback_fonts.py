"""Build the bundled fallback fonts (CJK and emoji) that comic captions and balloons use.

Run once by a developer, not at install time; the result is committed in
``resources/fonts/``. reportlab embeds only TrueType outlines, while Noto Sans
CJK ships as a variable CFF2 collection of 65,535 glyphs, so this script:

1. takes the Simplified Chinese face of Noto Sans CJK (which, like every face of
   it, covers Japanese kana and Korean Hangul too) at Regular weight,
2. keeps the characters of everyday Chinese, Japanese and Korean text: every
   hanzi/kanji/hanja of GB 2312, JIS X 0208 and KS X 1001 (and Big5's common
   level), all kana, the 2,350 Hangul syllables of KS X 1001, CJK punctuation
   and full-width forms,
3. converts the cubic outlines to quadratic TrueType ones (``cu2qu``),
4. takes Noto Emoji (monochrome) at Regular weight as the emoji fallback,
5. renames both (the OFL asks modified fonts not to keep a reserved name).

Usage (fontTools is the only requirement; the Noto fonts come from the OFL-licensed
``manimgx-fonts`` and ``manimgx-fonts-cjk`` wheels on PyPI):

    pip download --no-deps manimgx-fonts manimgx-fonts-cjk -d /tmp/noto
    python packaging/fallback_fonts.py /tmp/noto/manimgx_fonts_cjk-*.whl \
        /tmp/noto/manimgx_fonts-*.whl resources/fonts
"""

from __future__ import annotations

import argparse
import io
import zipfile
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, TTFont, newTable
from fontTools.varLib import instancer

CJK_FACE = "Noto Sans CJK SC"
CJK_OUT = "StoryboardFallbackCJK.ttf"
EMOJI_OUT = "StoryboardFallbackEmoji.ttf"
MAX_ERROR = 1.0  # font units: how far a quadratic outline may stray from the cubic one
RANGES = (
    (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
    (0x3130, 0x318F),  # Hangul compatibility jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3200, 0x32FF),  # Enclosed CJK letters
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # Half-width and full-width forms
)
# Each codec with the lead bytes kept: Big5's are its common level (5,401 hanzi) only.
LEGACY_CODECS = {
    "gb2312": range(0x81, 0xFF),
    "shift_jis": range(0x81, 0xFF),
    "euc_kr": range(0x81, 0xFF),
    "big5": range(0xA4, 0xC7),
}


def everyday_cjk() -> set[int]:
    """The code points of the legacy national character sets, decoded by Python's codecs."""
    points = {p for first, last in RANGES for p in range(first, last + 1)}
    for codec, leads in LEGACY_CODECS.items():
        points |= set(decodable(codec, leads))
    return {p for p in points if p >= 0x2E80}


def decodable(codec: str, leads: range) -> Iterable[int]:
    """Every character a double-byte codec decodes from ``leads`` and any trail byte."""
    for lead in leads:
        for trail in range(0x40, 0xFF):
            try:
                text = bytes((lead, trail)).decode(codec)
            except UnicodeDecodeError:
                continue
            if len(text) == 1:
                yield ord(text)


def wheel_font(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(suffix))
        return archive.read(name)


def regular_instance(font: TTFont) -> TTFont:
    return instancer.instantiateVariableFont(font, {"wght": 400}, updateFontNames=False)


def keep_only(font: TTFont, unicodes: Iterable[int]) -> None:
    options = subset.Options()
    options.layout_features = ["ccmp", "locl", "kern", "vert"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)


def to_truetype(font: TTFont) -> None:
    """Cubic CFF/CFF2 outlines to quadratic ``glyf`` ones, the tables reportlab reads."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    for tag in ("CFF ", "CFF2", "VORG"):
        if tag in font:
            del font[tag]
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs"):
        setattr(maxp, field, 1 if field == "maxZones" else 0)
    for field in ("maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions"):
        setattr(maxp, field, 0)
    maxp.maxComponentElements = max(
        (len(g.components) for g in glyphs.values() if g.isComposite()), default=0
    )
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 2.0
    font["post"].extraNames = []
    font["post"].mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont, family: str) -> None:
    """A new family name for the modified font, as the OFL asks of derived fonts."""
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17, 21, 22):
            names.removeNames(nameID=record.nameID)
    plain = family.replace(" ", "")
    for name_id, value in ((1, family), (2, "Regular"), (3, f"{plain}-Regular"), (4, family)):
        names.setName(value, name_id, 3, 1, 0x409)
    names.setName(f"{plain}-Regular", 6, 3, 1, 0x409)


def build_cjk(wheel: Path, out: Path) -> None:
    collection = TTCollection(io.BytesIO(wheel_font(wheel, ".ttc")))
    face = next(f for f in collection.fonts if f["name"].getDebugName(1) == CJK_FACE)
    font = regular_instance(face)
    keep_only(font, everyday_cjk())
    to_truetype(font)
    rename(font, "Storyboard Fallback CJK")
    font.save(out)


def build_emoji(wheel: Path, out: Path) -> None:
    font = regular_instance(TTFont(io.BytesIO(wheel_font(wheel, "NotoEmoji[wght].ttf"))))
    emoji = [p for p in font.getBestCmap() if p > 0x7F]
    keep_only(font, emoji)
    rename(font, "Storyboard Fallback Emoji")
    font.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cjk_wheel", type=Path, help="the manimgx-fonts-cjk wheel")
    parser.add_argument("fonts_wheel", type=Path, help="the manimgx-fonts wheel (Noto Emoji)")
    parser.add_argument("out", type=Path, help="where to write the fonts (resources/fonts)")
    args = parser.parse_args()
    build_cjk(args.cjk_wheel, args.out / CJK_OUT)
    build_emoji(args.fonts_wheel, args.out / EMOJI_OUT)
    for name in (CJK_OUT, EMOJI_OUT):
        path = args.out / name
        print(f"{path}: {len(TTFont(path).getBestCmap())} characters, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
