"""Counting a prompt's tokens as the text encoder will, for the editor's counter.

SD 1.5's text encoder and both of SDXL's are CLIP models that read 77 tokens,
the start and end tokens included; diffusers cuts a longer prompt there, so
words past that point never reach the picture. The count comes from the
model's own CLIP tokenizer (``tokenizer/`` of a diffusers folder), or else from
the CLIP tokenizer the app ships for single-file checkpoints, which is the one
SD 1.5 and SDXL share. transformers is imported by name on a pool thread, like
the engine, so the editor never waits for it and ``ui/`` never imports it;
until it is there (or where it cannot load) the counter shows an estimate and
says so.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from storyboard_app.project.bundled import resources_dir

CLIP_LIMIT = 77  # tokens, with the start and end tokens
SPECIAL_TOKENS = 2
COUNTS_KEPT = 256  # prompts whose count a counter remembers
SHIPPED_TOKENIZER = ("pipeline_configs", "sdxl", "tokenizer")
TOKENIZER_MODULE = "transformers"
# CLIP's pre-tokenizer: words, single digits, runs of other symbols.
_PIECES = re.compile(r"[^\W\d_]+|\d|[^\w\s]+")
_LETTERS_PER_TOKEN = 6  # an estimate: common words are one token, long rare ones several
_log = logging.getLogger(__name__)
_cache: dict[Path, ClipTokenCounter | None] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class TokenCount:
    """``tokens`` (start and end included) against ``limit``; ``kept_chars`` is how many
    characters of the prompt reach the encoder when it is cut (None: all of them)."""

    tokens: int
    limit: int
    exact: bool
    kept_chars: int | None = None

    @property
    def over(self) -> bool:
        return self.tokens > self.limit


class ClipTokenCounter:
    """Counts with a CLIP tokenizer, and finds where the encoder stops reading."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        length = getattr(tokenizer, "model_max_length", CLIP_LIMIT)
        self.limit = length if isinstance(length, int) and 2 < length <= 1024 else CLIP_LIMIT
        self._counted = functools.lru_cache(maxsize=COUNTS_KEPT)(self._count)

    def count(self, text: str) -> TokenCount:
        """The count of ``text``; the inspector asks again for the same prompt after every
        edit of the panel's other fields, so recent answers are kept."""
        return self._counted(text)

    def _count(self, text: str) -> TokenCount:
        encoded = self._tokenizer(
            text, truncation=False, return_offsets_mapping=True, verbose=False
        )
        ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
        if len(ids) <= self.limit:
            return TokenCount(len(ids), self.limit, exact=True)
        # Kept: the start token and limit - 2 tokens of text; the next one is the first cut.
        return TokenCount(len(ids), self.limit, exact=True, kept_chars=offsets[self.limit - 1][0])


def estimate_tokens(text: str, limit: int = CLIP_LIMIT) -> TokenCount:
    """A count without a tokenizer: CLIP's pieces, a word of n letters as n/6 tokens."""
    used = SPECIAL_TOKENS
    kept: int | None = None
    for piece in _PIECES.finditer(text):
        size = math.ceil(len(piece.group()) / _LETTERS_PER_TOKEN) if piece.group().isalpha() else 1
        if kept is None and used + size > limit:
            kept = piece.start()
        used += size
    return TokenCount(used, limit, exact=False, kept_chars=kept)


def tokenizer_folder(model_source: str) -> Path:
    """The model's own ``tokenizer/`` when it is a diffusers folder or a model shipped by
    name (``toy``, in ``resources/models``), else the shipped SD 1.5/SDXL one."""
    if model_source:
        for folder in (Path(model_source).expanduser(), resources_dir() / "models" / model_source):
            own = folder / "tokenizer"
            if (own / "vocab.json").is_file() and (own / "merges.txt").is_file():
                return own
    return resources_dir().joinpath(*SHIPPED_TOKENIZER)


def load_counter(model_source: str) -> ClipTokenCounter | None:
    """The counter for ``model_source``'s tokenizer (blocking; loaded once per folder), or
    None when transformers or the tokenizer files cannot be loaded."""
    folder = tokenizer_folder(model_source)
    with _cache_lock:
        if folder in _cache:
            return _cache[folder]
    counter: ClipTokenCounter | None
    try:
        transformers = importlib.import_module(TOKENIZER_MODULE)
        counter = ClipTokenCounter(transformers.CLIPTokenizerFast.from_pretrained(str(folder)))
    except Exception as error:  # any failure means: estimate instead
        _log.warning("No CLIP tokenizer in %s (%s): token counts are estimates.", folder, error)
        counter = None
    with _cache_lock:
        _cache[folder] = counter
    return counter


class TokenCounterLoader(QObject):
    """Loads the counter for a model source off the UI thread; ``ready`` carries it (or None)."""

    ready = Signal(object)

    def load(self, model_source: str) -> None:
        QThreadPool.globalInstance().start(lambda: self._load(model_source))

    def _load(self, model_source: str) -> None:
        counter = load_counter(model_source)
        with contextlib.suppress(RuntimeError):  # the editor closed while the tokenizer loaded
            self.ready.emit(counter)
