"""A CLIP tokenizer over the toy world's words: each caption word is one token.

CLIP's tokenizer is byte-pair encoding: a word becomes the tokens its merges
build, applied lowest rank first. Learning the merges from the world's own words
(the usual BPE training, most frequent pair first, until every word is whole)
gives ranks under which each word encodes to itself; any other word falls back
to letters, so an unfamiliar prompt still tokenizes instead of failing.
"""

from __future__ import annotations

import itertools
import json
import string
from collections import Counter
from pathlib import Path

from storyboard_app.engine.toyworld.captions import words

SPECIAL = ("<|startoftext|>", "<|endoftext|>")
END = "</w>"


def _symbols(word: str) -> tuple[str, ...]:
    return (*word[:-1], word[-1] + END)


def learn_merges(vocabulary: list[str]) -> list[tuple[str, str]]:
    """BPE merges, in rank order, after which every word of ``vocabulary`` is one symbol."""
    pieces = {word: _symbols(word) for word in vocabulary}
    merges: list[tuple[str, str]] = []
    while True:
        pairs = Counter(pair for seq in pieces.values() for pair in itertools.pairwise(seq))
        if not pairs:
            return merges
        best = max(pairs.items(), key=lambda item: (item[1], item[0]))[0]
        merges.append(best)
        pieces = {word: _merge(seq, best) for word, seq in pieces.items()}


def _merge(seq: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    out: list[str] = []
    index = 0
    while index < len(seq):
        if index + 1 < len(seq) and (seq[index], seq[index + 1]) == pair:
            out.append(seq[index] + seq[index + 1])
            index += 2
        else:
            out.append(seq[index])
            index += 1
    return tuple(out)


def write_tokenizer(folder: Path) -> None:
    """``vocab.json``, ``merges.txt`` and the configs of a CLIPTokenizer in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    merges = learn_merges(words())
    letters = string.ascii_lowercase + string.digits + string.punctuation
    tokens = [*letters, *(c + END for c in letters), *(a + b for a, b in merges)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*tokens, *SPECIAL]))}
    (folder / "vocab.json").write_text(json.dumps(vocab, indent=0), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": 77,
        "bos_token": SPECIAL[0],
        "eos_token": SPECIAL[1],
        "unk_token": SPECIAL[1],
        "pad_token": SPECIAL[1],
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    special = {k: config[k] for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2), encoding="utf-8")
