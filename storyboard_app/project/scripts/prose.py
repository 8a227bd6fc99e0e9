"""A story written as prose, cut into panels by rules (no model, works offline).

Each sentence (pysbd's segmentation, which knows "Mr." and quotes) is a beat: one
moment, one panel. The rules, in order:

- Quoted speech is taken out of the prompt and goes into the dialogue of its beat;
  a sentence that is only speech and a speech tag ("Hi," she said.) belongs to the
  moment before it rather than making a panel of its own.
- The cast comes from a cast file, or else from recurring proper names: a
  capitalised word that is mentioned twice or more and never written in lower
  case, and not a place: a name that follows a place preposition ("in", "at",
  "to", "from", "into", "near") every time it is mentioned ("in Paris", "to Paris")
  is not proposed. Found names get their name as a stand-in description.
- A name is matched whole-word and case-insensitively, possessives included; its
  first mention in a panel becomes the ``[Name]`` tag.
- A sentence that names nobody but has a third-person pronoun keeps the
  characters of the panel before it ("Mara climbs. She stops." are both Mara).
- First person (I, me, my) is the narrator: the cast character picked as narrator
  (the first one of the cast file by default), or a "Narrator" to describe.
- A panel with nobody in it is a ``[NC]`` panel.
- ``panels`` merges neighbouring beats, or splits long ones at clause breaks, to
  come near that count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pysbd

from storyboard_app.project.scripts.io import (
    Position,
    fail_at,
    load_story_script,
    read_script_text,
    title_from_path,
    validate_story,
)
from storyboard_app.project.scripts.model import CharacterSpec, SceneSpec, StoryScript
from storyboard_app.project.scripts.names import (
    mentioned,
    tag_mentions,
    undescribed_character,
)
from storyboard_app.project.tags import TAG_PATTERN

QUOTE_PATTERN = re.compile(r"“[^”]*”?|\"[^\"]*\"?")
CAPITALISED_PATTERN = re.compile(r"\b[A-Z][a-z]+\b")
PLACE_PREPOSITION_PATTERN = re.compile(r"\b(?:in|at|to|from|into|near)\s+$", re.IGNORECASE)
SPEECH_TAG_PATTERN = re.compile(
    r"^[\s,.;:!?—–-]*(?:(?:\w+\s+){0,3}(?:said|says|asked|asks|replied|replies|whispered|"
    r"whispers|shouted|shouts|cried|cries|called|calls|answered|answers|muttered|mutters)"
    r"(?:\s+\w+){0,3})?[\s,.;:!?—–-]*$",
    re.IGNORECASE,
)
THIRD_PERSON = re.compile(r"\b(he|she|they|him|her|them|his|their|hers|theirs)\b", re.IGNORECASE)
SUBJECT_PRONOUN = re.compile(r"\b(he|she|they)\b", re.IGNORECASE)
FIRST_PERSON = re.compile(r"\b(I|me|my|mine|myself)\b")
FIRST_PERSON_TAG = {"i": "", "me": "", "myself": "", "my": "'s", "mine": "'s"}
CLAUSE_BREAK = re.compile(r";\s+|,\s+(?:and|but|then|while|as)\s+|\s+—\s+")
# Capitalised words that start sentences but are never names.
NOT_NAME_WORDS = """
A An The He She It They We You I Me My His Her Its Our Their Them Him Us This That These
Those There Here Then When While After Before But And Or So If As At In On Of To For
With From By Into Onto Over Under Up Down Out Off No Not Yes Oh Now Once One Two All
Every Each Some What Who Why How Where Which Chapter Mr Mrs Ms Dr Miss Sir
"""
NOT_NAMES = frozenset(NOT_NAME_WORDS.split())
NARRATOR = "Narrator"


@dataclass(frozen=True)
class Beat:
    """One moment of the story: action words without their quotes, and the speech in it.

    Each speech is (the words around the quote, the quote): the words ("said Tomas")
    tell who speaks when the speech joins another sentence's beat.
    """

    action: str
    speech: tuple[tuple[str, str], ...]
    line: int


def load_prose_story(
    path: Path,
    cast_path: Path | None = None,
    panels: int | None = None,
    narrator: str | None = None,
) -> StoryScript:
    """Read the story at ``path`` (and its cast file, any story script format) into panels."""
    cast = load_cast(cast_path) if cast_path is not None else ()
    return parse_prose(read_script_text(Path(path)), Path(path), cast, panels, narrator)


def load_cast(cast_path: Path) -> tuple[CharacterSpec, ...]:
    """The characters of a story script used as a cast file; it must define some."""
    cast = load_story_script(cast_path).characters
    if not cast:
        fail_at(
            cast_path,
            Position(1),
            "the cast file defines no characters",
            "Add [[characters]] tables with a name and a description to the cast file.",
        )
    return cast


def parse_prose(
    text: str,
    path: Path | None = None,
    cast: Sequence[CharacterSpec] = (),
    panels: int | None = None,
    narrator: str | None = None,
) -> StoryScript:
    """Cut ``text`` into panels by the rules above; raise :class:`ScriptError` on an empty story."""
    title, body = _markdown_body(text)
    beats = read_beats(body)
    if not beats:
        fail_at(
            path,
            Position(max(len(text.splitlines()), 1)),
            "the story has no sentences to make panels from",
            "Write the story as sentences, e.g. 'Mara climbs the stairs. She opens the door.'",
        )
    if panels is not None:
        beats = split_beats(beats, panels)
    characters = list(cast) or propose_cast(body)
    narrator_name = _narrator(characters, narrator, bool(cast), path)
    first_person = any(FIRST_PERSON.search(beat.action) for beat in beats)
    if first_person and narrator_name not in [c.name for c in characters]:
        characters.append(undescribed_character(narrator_name))
    scenes = build_scenes(beats, [c.name for c in characters], narrator_name)
    if panels is not None:
        scenes = merge_scenes(scenes, panels)
    script = StoryScript(
        title=title or title_from_path(path),
        characters=tuple(characters),
        scenes=tuple(scenes),
        source=path,
    )
    validate_story(script, path)
    return script


def _narrator(
    characters: Sequence[CharacterSpec], wanted: str | None, from_cast: bool, path: Path | None
) -> str:
    """Who "I" is: the named cast character, the cast's first, or a Narrator to describe."""
    names = [c.name for c in characters]
    if wanted is not None:
        if wanted not in names and from_cast:
            fail_at(
                path,
                Position(None),
                f"the narrator '{wanted}' is not in the cast (cast: {', '.join(names)})",
                "Give --narrator the name of a character of the cast file.",
            )
        return wanted
    return names[0] if from_cast and names else NARRATOR


def _markdown_body(text: str) -> tuple[str, list[tuple[int, str]]]:
    """The first ``# heading`` as the title, and the numbered lines without Markdown marks.

    Square brackets would read as character tags, so they become parentheses.
    """
    title = ""
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#"):
            title = title or line.lstrip("#").strip()
            line = ""
        elif re.fullmatch(r"[-*_]{3,}", line):
            line = ""
        line = re.sub(r"^(?:>\s*|[-*+]\s+|\d+\.\s+)", "", line)
        line = re.sub(r"[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}", "", line)
        lines.append((number, line.replace("[", "(").replace("]", ")")))
    return title, lines


def read_beats(lines: Sequence[tuple[int, str]]) -> list[Beat]:
    """Sentences, paragraph by paragraph, each a beat; speech-only ones join the beat before."""
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    beats: list[Beat] = []
    for paragraph in _paragraphs(lines):
        for sentence, line in _sentences(paragraph, segmenter):
            beat = _beat(sentence, line)
            if beats and _is_only_speech(beat):
                beats[-1] = replace(beats[-1], speech=beats[-1].speech + beat.speech)
            elif beat.action or beat.speech:
                beats.append(beat)
    return beats


def _paragraphs(lines: Sequence[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    paragraphs: list[list[tuple[int, str]]] = [[]]
    for number, text in lines:
        if text:
            paragraphs[-1].append((number, text))
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _sentences(
    paragraph: list[tuple[int, str]], segmenter: pysbd.Segmenter
) -> list[tuple[str, int]]:
    """Each sentence with the line it starts on; a quote pysbd cut in two is joined again."""
    text = " ".join(line for _, line in paragraph)
    starts = []
    offset = 0
    for number, line in paragraph:
        starts.append((offset, number))
        offset += len(line) + 1
    sentences: list[tuple[str, int]] = []
    open_quote = False
    for span in segmenter.segment(text):
        line = next(n for start, n in reversed(starts) if start <= span.start)
        if open_quote and sentences:
            sentences[-1] = (f"{sentences[-1][0]} {span.sent.strip()}", sentences[-1][1])
        else:
            sentences.append((span.sent.strip(), line))
        open_quote = _quote_is_open(sentences[-1][0])
    return sentences


def _quote_is_open(text: str) -> bool:
    return text.count('"') % 2 == 1 or text.count("“") > text.count("”")


def _beat(sentence: str, line: int) -> Beat:
    speech = tuple(
        quote.strip('“”" ').rstrip(",").strip()
        for quote in QUOTE_PATTERN.findall(sentence)
        if quote.strip()
    )
    action = QUOTE_PATTERN.sub(" ", sentence)
    action = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", action)).strip(" ,")
    return Beat(action, tuple((action, s) for s in speech if s), line)


def _is_only_speech(beat: Beat) -> bool:
    return bool(beat.speech) and bool(SPEECH_TAG_PATTERN.fullmatch(beat.action))


def propose_cast(lines: Sequence[tuple[int, str]]) -> list[CharacterSpec]:
    """Recurring proper names: capitalised twice or more, never in lower case, not a stop word."""
    text = "\n".join(line for _, line in lines)
    lower_words = set(re.findall(r"\b[a-z]+\b", text))
    counts: dict[str, int] = {}
    first_line: dict[str, int] = {}
    not_a_place: set[str] = set()
    for number, line in lines:
        for match in CAPITALISED_PATTERN.finditer(line):
            word = match.group()
            if word in NOT_NAMES or word.lower() in lower_words:
                continue
            counts[word] = counts.get(word, 0) + 1
            first_line.setdefault(word, number)
            if not PLACE_PREPOSITION_PATTERN.search(line[: match.start()]):
                not_a_place.add(word)
    return [
        undescribed_character(word, first_line[word])
        for word, n in counts.items()
        if n >= 2 and word in not_a_place
    ]


def split_beats(beats: list[Beat], panels: int) -> list[Beat]:
    """Split the longest beats at clause breaks until there are ``panels`` or none is left."""
    beats = list(beats)
    while len(beats) < panels:
        longest = max(range(len(beats)), key=lambda i: len(beats[i].action))
        parts = _split_once(beats[longest])
        if parts is None:
            break
        beats[longest : longest + 1] = parts
    return beats


def merge_scenes(scenes: list[SceneSpec], panels: int) -> list[SceneSpec]:
    """Neighbouring panels merged evenly into ``panels``; merging comes after casting so
    each sentence keeps the characters its own pronouns and names gave it."""
    count = len(scenes)
    if count <= panels:
        return scenes
    groups = [scenes[count * i // panels : count * (i + 1) // panels] for i in range(panels)]
    return [_merge(group) for group in groups]


def _split_once(beat: Beat) -> list[Beat] | None:
    """The beat cut at its middle-most clause break, speech kept with the first part."""
    breaks = list(CLAUSE_BREAK.finditer(beat.action))
    if not breaks:
        return None
    middle = len(beat.action) / 2
    cut = min(breaks, key=lambda m: abs(m.start() - middle))
    first, second = beat.action[: cut.start()].strip(), beat.action[cut.end() :].strip()
    if not first or not second:
        return None
    return [
        Beat(first, beat.speech, beat.line),
        Beat(second[:1].upper() + second[1:], (), beat.line),
    ]


def _merge(group: list[SceneSpec]) -> SceneSpec:
    prompt = _untag_repeats(" ".join(scene.prompt for scene in group))
    characters = tuple(dict.fromkeys(name for scene in group for name in scene.characters))
    dialogue = "\n".join(scene.dialogue for scene in group if scene.dialogue)
    return SceneSpec(prompt=prompt, characters=characters, dialogue=dialogue, line=group[0].line)


def build_scenes(beats: Sequence[Beat], names: Sequence[str], narrator: str) -> list[SceneSpec]:
    """A panel per beat, with its characters found by name, pronoun or first person."""
    scenes: list[SceneSpec] = []
    previous: tuple[str, ...] = ()
    for beat in beats:
        prompt, characters = _cast_beat(beat.action, names, narrator, previous)
        if not prompt or _is_only_speech(beat):
            prompt = _speaking_prompt(characters)
        speakers = [_speaker(hint, names, characters) for hint, _ in beat.speech]
        characters = tuple(dict.fromkeys([*characters, *filter(None, speakers)]))
        dialogue = "\n".join(
            f"{who}: {text}" if who else text
            for who, (_, text) in zip(speakers, beat.speech, strict=True)
        )
        scenes.append(
            SceneSpec(prompt=prompt, characters=characters, dialogue=dialogue, line=beat.line)
        )
        previous = characters
    return scenes


def _speaker(hint: str, names: Sequence[str], characters: tuple[str, ...]) -> str:
    """Who says it: the name in its speech tag, else the first character of the moment."""
    named = mentioned(hint, names)
    return named[0] if named else (characters[0] if characters else "")


def _speaking_prompt(characters: tuple[str, ...]) -> str:
    """What a panel of speech alone shows: its speakers talking (a speech tag is no picture)."""
    if not characters:
        return "someone speaking"
    return " and ".join(f"[{name}]" for name in characters) + " speaking"


def _cast_beat(
    action: str, names: Sequence[str], narrator: str, previous: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The tagged prompt and who is in it: named people, the narrator for "I", or a pronoun's."""
    if narrator and narrator in names and FIRST_PERSON.search(action):
        action = _tag_first_person(action, narrator)
    prompt, characters = tag_mentions(action, names)
    tagged = tuple(dict.fromkeys([*_tags(prompt), *characters]))
    if tagged:
        return _untag_repeats(prompt), tagged
    if previous and THIRD_PERSON.search(action):
        return _tag_pronoun(action, previous[0]), previous
    return action, ()


def _tags(prompt: str) -> list[str]:
    return [m.group(1) for m in TAG_PATTERN.finditer(prompt)]


def _tag_first_person(action: str, narrator: str) -> str:
    def tag(match: re.Match[str]) -> str:
        return f"[{narrator}]{FIRST_PERSON_TAG[match.group(1).lower()]}"

    return FIRST_PERSON.sub(tag, action)


def _tag_pronoun(action: str, name: str) -> str:
    """The first subject pronoun becomes the tag; without one the tag leads the prompt."""
    tagged, count = SUBJECT_PRONOUN.subn(f"[{name}]", action, count=1)
    return tagged if count else f"[{name}]: {action}"


def _untag_repeats(prompt: str) -> str:
    """Only each character's first tag stays; a tag per mention would repeat the description."""
    seen: set[str] = set()

    def keep_first(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in seen:
            return name
        seen.add(name)
        return match.group(0)

    return TAG_PATTERN.sub(keep_first, prompt)
