"""Beats and prompts from a local language model, with the rules as the safety net.

An OpenAI-compatible server (llama.cpp's ``llama-server``, Ollama, vLLM, LM Studio)
can read a story better than sentence rules can: it merges small moments, writes
visual prompts and knows who "she" is across paragraphs. It is optional and
often absent, slow or wrong, so every failure (no server, timeout, HTTP error,
an answer that is not the JSON asked for, or JSON that makes an invalid story)
falls back to :func:`parse_prose` and says why. Only the standard library is
used: one POST, no streaming, no retries.

The prompt (:data:`SYSTEM_PROMPT`) asks for exactly this JSON::

    {"panels": [{"line": 3, "prompt": "[Mara] climbs a windy hill at dusk",
                 "characters": ["Mara"],
                 "dialogue": [{"speaker": "Mara", "text": "Is anyone there?"}]}]}
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyboard_app.project.errors import ScriptError
from storyboard_app.project.scripts.io import title_from_path, validate_story
from storyboard_app.project.scripts.model import CharacterSpec, SceneSpec, StoryScript
from storyboard_app.project.scripts.names import tag_mentions, undescribed_character
from storyboard_app.project.scripts.prose import parse_prose

SYSTEM_PROMPT = """You turn a story into storyboard panels.
Answer with JSON only, no prose, in exactly this shape:
{"panels": [{"line": <number of the story line the panel starts on>,
             "prompt": "<what the picture shows, visual words only, no dialogue>",
             "characters": ["<names of the characters visible in the panel>"],
             "dialogue": [{"speaker": "<name>", "text": "<words spoken in this moment>"}]}]}
Rules: one panel per visual moment; use only character names from the cast list and write
each visible character in the prompt as [Name]; a panel without characters has
"characters": []; keep the panels in story order."""
FENCE_PATTERN = re.compile(r"^```(?:json)?\s*|\s*```$")
MAX_ANSWER_BYTES = 2_000_000


@dataclass(frozen=True)
class LlmEndpoint:
    """Where the model is: an OpenAI-compatible base URL (``http://127.0.0.1:8080/v1``)."""

    url: str
    model: str
    timeout_s: float = 60.0


@dataclass(frozen=True)
class LlmStory:
    """The panels, and why the rules made them when the model did not ("" if it did)."""

    script: StoryScript
    fallback_reason: str = ""


class ModelAnswerError(Exception):
    """The model's answer could not be used; the message says why, for the fallback note."""


def story_from_llm(
    text: str,
    endpoint: LlmEndpoint,
    path: Path | None = None,
    cast: Sequence[CharacterSpec] = (),
    panels: int | None = None,
    narrator: str | None = None,
) -> LlmStory:
    """Panels from the model, or from the rules when the model fails in any way.

    The rules run first: a story they reject (empty, bad narrator) is the artist's
    problem and is reported as such, never hidden behind a model failure; their
    cast is also what the model is told to use.
    """
    rules = parse_prose(text, path, cast, panels, narrator)
    try:
        answer = ask_model(endpoint, user_message(text, rules.characters, panels))
        script = script_from_answer(answer, rules, path)
    except ModelAnswerError as error:
        return LlmStory(rules, f"{error}; the panels were cut by the rules instead")
    return LlmStory(script)


def user_message(text: str, cast: Sequence[CharacterSpec], panels: int | None) -> str:
    """The story with line numbers (so panels can say where they start) and the cast."""
    numbered = "\n".join(f"{n}| {line}" for n, line in enumerate(text.splitlines(), 1))
    names = ", ".join(c.name for c in cast) or "(none: use no characters)"
    wanted = f"Make about {panels} panels.\n" if panels else ""
    return f"Cast: {names}\n{wanted}Story:\n{numbered}"


def ask_model(endpoint: LlmEndpoint, message: str) -> Any:
    """One chat completion; the JSON object the model wrote, or :class:`ModelAnswerError`."""
    body = {
        "model": endpoint.model,
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": message},
        ],
    }
    request = urllib.request.Request(
        endpoint.url.rstrip("/") + "/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    where = f"the model at {endpoint.url}"
    try:
        with urllib.request.urlopen(request, timeout=endpoint.timeout_s) as response:
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise ModelAnswerError(f"{where} answered HTTP {error.code}") from None
    except TimeoutError:
        raise ModelAnswerError(f"{where} did not answer within {endpoint.timeout_s:g} s") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ModelAnswerError(f"{where} could not be reached ({reason})") from None
    return _content_json(raw, where)


def _content_json(raw: bytes, where: str) -> Any:
    """The JSON inside the completion's message, code fences allowed."""
    if len(raw) > MAX_ANSWER_BYTES:
        raise ModelAnswerError(f"{where} sent an answer over {MAX_ANSWER_BYTES} bytes")
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
        return json.loads(FENCE_PATTERN.sub("", content.strip()))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ModelAnswerError(f"{where} did not answer with the JSON asked for") from None


def script_from_answer(answer: Any, rules: StoryScript, path: Path | None) -> StoryScript:
    """The model's panels as a story, checked as strictly as a script file."""
    entries = answer.get("panels") if isinstance(answer, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ModelAnswerError("the model's answer has no panels")
    characters = {c.name: c for c in rules.characters}
    scenes = [_scene(entry, characters) for entry in entries]
    script = StoryScript(
        title=rules.title or title_from_path(path),
        characters=tuple(characters.values()),
        scenes=tuple(scenes),
        source=path,
    )
    try:
        validate_story(script, path)
    except ScriptError as error:
        problem = f"the model's panels are not a valid story ({error.problem})"
        raise ModelAnswerError(problem) from None
    return script


def _scene(entry: Any, characters: dict[str, CharacterSpec]) -> SceneSpec:
    """One panel: listed characters must be real names; each gets its tag in the prompt."""
    if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
        raise ModelAnswerError("a panel in the model's answer has no prompt")
    names = [n for n in _strings(entry.get("characters")) if n.strip()]
    for name in names:
        characters.setdefault(name, undescribed_character(name))
    prompt, found = tag_mentions(entry["prompt"].strip(), names)
    missing = [n for n in names if n not in found and f"[{n}]" not in prompt]
    prompt = " ".join([*(f"[{n}]" for n in missing), prompt])
    line = entry.get("line")
    return SceneSpec(
        prompt=prompt,
        characters=tuple(dict.fromkeys(names)),
        dialogue=_dialogue(entry.get("dialogue")),
        line=line if isinstance(line, int) and not isinstance(line, bool) else None,
    )


def _dialogue(dialogue: Any) -> str:
    lines = []
    for item in dialogue if isinstance(dialogue, list) else []:
        if isinstance(item, dict) and isinstance(item.get("text"), str) and item["text"].strip():
            speaker = item.get("speaker")
            prefix = f"{speaker}: " if isinstance(speaker, str) and speaker.strip() else ""
            lines.append(prefix + item["text"].strip())
    return "\n".join(lines)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ModelAnswerError("a panel's characters in the model's answer is not a list of names")
    return value
