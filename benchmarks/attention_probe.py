"""Can a model's self-attention carry a look from one picture to another at all?

Used by ``consistency.py --probe``. Consistent Self-Attention only works if a
UNet's self-attention matches tokens by content (a body token attends to body
tokens), so that the values it reads from other pictures bring their look. This
probe asks the model directly, with the strongest sharing there is: a batch of
pictures of one prompt is denoised with *extended* attention in every ``attn1``
layer at every step (each picture's queries attend to all tokens of all the
pictures of its guidance half), and it reports

- the normalised entropy of the attention weights per level (1.0 is uniform:
  every query spreads its weight evenly over every token, the layer is then a
  global average and has nothing of a particular token to pass on);
- the share of attention that lands on the other pictures' tokens, beside their
  share of the tokens (equal when attention ignores content);
- the within-batch agreement of the parsed colour, hat and pattern with plain
  and with extended attention, and with every ``attn1`` output zeroed (how much
  the layers matter to the look at all).

The processor is installed for the probe and the model's own processors are
restored in ``finally``; its state is an explicit :class:`Tally`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from diffusers import DiffusionPipeline

from storyboard_app.engine.toyworld.parse import parse
from storyboard_app.engine.toyworld.scoring import pair_agreements
from storyboard_app.engine.toyworld.world import Placed

PROMPT = "a round creature, large, in the centre, in the day"
BATCH = 4
STEPS = 30
GUIDANCE = 5.0
OPEN_ATTRIBUTES = ("colour", "hat", "pattern")  # the prompt names only the shape


@dataclass
class Tally:
    """Per token count (level): attention entropies and shares on other pictures."""

    entropy: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    others: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, tokens: int, weights: torch.Tensor, pictures: int) -> None:
        """``weights``: ``[batch, heads, tokens, pictures * tokens]`` attention probabilities."""
        entropy = -(weights * weights.clamp_min(1e-12).log()).sum(-1).mean().item()
        self.entropy[tokens].append(entropy / math.log(weights.shape[-1]))
        own = [
            weights[i, :, :, (i % pictures) * tokens : (i % pictures + 1) * tokens].sum(-1).mean()
            for i in range(weights.shape[0])
        ]
        self.others[tokens].append(1.0 - torch.stack(own).mean().item())


class ExtendedAttnProcessor:
    """Each picture attends to every token of every picture of its guidance half."""

    def __init__(self, tally: Tally, zero: bool = False) -> None:
        self.tally = tally
        self.zero = zero

    def __call__(self, attn, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if self.zero:
            return torch.zeros_like(hidden_states)
        batch, tokens, channels = hidden_states.shape
        x = hidden_states
        if attn.group_norm is not None:
            x = attn.group_norm(x.transpose(1, 2)).transpose(1, 2)
        pictures = batch // 2
        q, k, v = (split_heads(attn, t) for t in (attn.to_q(x), attn.to_k(x), attn.to_v(x)))
        k, v = extend(k, pictures), extend(v, pictures)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        self.tally.add(tokens, weights, pictures)
        out = (weights @ v).transpose(1, 2).reshape(batch, tokens, channels)
        out = attn.to_out[1](attn.to_out[0](out))
        if attn.residual_connection:
            out = out + hidden_states
        return out / attn.rescale_output_factor


def split_heads(attn, tensor: torch.Tensor) -> torch.Tensor:
    batch, tokens, channels = tensor.shape
    return tensor.view(batch, tokens, attn.heads, channels // attn.heads).transpose(1, 2)


def extend(tensor: torch.Tensor, pictures: int) -> torch.Tensor:
    """``[2 * pictures, heads, n, d]`` -> each picture's row holds its half's tokens, joined."""
    halves = tensor.split(pictures)
    joined = [h.transpose(0, 1).reshape(1, h.shape[1], -1, h.shape[-1]) for h in halves]
    return torch.cat([j.expand(pictures, -1, -1, -1) for j in joined])


@contextmanager
def installed(unet, make: Callable[[], object] | None) -> Iterator[None]:
    """Every ``attn1`` processor replaced by ``make()`` (None: unchanged), restored after."""
    saved = unet.attn_processors
    if make is not None:
        unet.set_attn_processor(
            {name: make() if ".attn1." in name else p for name, p in saved.items()}
        )
    try:
        yield
    finally:
        unet.set_attn_processor(saved)


def looks(pipe: DiffusionPipeline, seed: int) -> list[Placed | None]:
    """The parsed creature of each picture of one batch (None where none is seen)."""
    images = pipe(
        [PROMPT] * BATCH,
        num_inference_steps=STEPS,
        guidance_scale=GUIDANCE,
        height=64,
        width=64,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
    ).images
    parsed = [parse((image * 255).round().astype(np.uint8)) for image in images]
    return [p.creatures[0] if p.creatures else None for p in parsed]


def agreement(batches: list[list[Placed | None]]) -> float:
    """Mean over pairs within a batch of the share of colour, hat and pattern alike, as the
    stories count it (pictures without a creature are left out)."""
    pairs = []
    for batch in batches:
        found = [placed.creature for placed in batch if placed is not None]
        pairs += pair_agreements(found, OPEN_ATTRIBUTES)
    return float(np.mean(pairs)) if pairs else 0.0


def probe(pipe: DiffusionPipeline, seeds: range) -> list[str]:
    """The probe's report lines."""
    pipe.set_progress_bar_config(disable=True)
    tally = Tally()
    modes = {
        "plain": None,
        "extended": lambda: ExtendedAttnProcessor(tally),
        "attn1 zeroed": lambda: ExtendedAttnProcessor(tally, zero=True),
    }
    scores = {}
    for label, make in modes.items():
        with installed(pipe.unet, make):
            scores[label] = agreement([looks(pipe, seed) for seed in seeds])
    lines = [f"{BATCH} pictures of {PROMPT!r} a batch, {len(seeds)} batches, {STEPS} steps"]
    lines.append("| tokens | normalised entropy | share on other pictures | their token share |")
    lines.append("|---|---|---|---|")
    share = (BATCH - 1) / BATCH
    for tokens in sorted(tally.entropy):
        entropy, others = np.mean(tally.entropy[tokens]), np.mean(tally.others[tokens])
        lines.append(f"| {tokens} | {entropy:.3f} | {others:.3f} | {share:.3f} |")
    lines.append(
        "within-batch agreement: "
        + ", ".join(f"{label} {value:.2f}" for label, value in scores.items())
    )
    return lines
