"""Consistent Self-Attention: our gathered processor against the official masked style.

Times one SDXL ``attn1`` layer at its real shapes (1,024 tokens x 1,280
channels, 20 heads; 4,096 tokens x 640 channels, 10 heads) with a
classifier-free-guidance batch, rate 0.5, for two passes:

- ``write``: a character's n identity images denoised together;
- ``read``: one panel attending to the cache of a character with n identity images.

Three implementations side by side: plain attention (``AttnProcessor2_0``),
the official first release's style (each guidance half's images concatenated
into one sequence, a boolean mask, SDPA with ``attn_mask``; a panel reads the
identity images' full hidden states) and ours (gathered tokens, no mask).

Usage: ``python benchmarks/attention.py [--device cuda] [--quick] [--full]``
(about 1.5 min on a 2-core CPU; ``--quick`` about 20 s).
The last line is ``masked/ours time ratio: X.XX``, the geometric mean over the
cases. The masked reference here is also the tests' ground truth.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0

from storyboard_app.engine.consistency_state import (
    ConsistencySchedule,
    ConsistencyState,
    TokenSampler,
)
from storyboard_app.engine.consistent_attention import ConsistentAttnProcessor
from storyboard_app.engine.identity_cache import IdentityCache

RATE = 0.5
IMAGE_SIZE = 1024
LAYER = "bench.attn1"


def official_visibility(
    tokens: int, indices: torch.Tensor, rows: Sequence[tuple[int, Sequence[int]]]
) -> torch.Tensor:
    """Boolean mask over images concatenated into one sequence, official style.

    ``indices[m]`` are the tokens of image m that other images may see; each of
    ``rows`` is (the query image, the images whose sampled tokens it sees) and
    gives ``tokens`` rows in which the query image sees all its own tokens.
    """
    images = indices.shape[0]
    sampled = torch.zeros(images, tokens, dtype=torch.bool, device=indices.device)
    sampled.scatter_(1, indices, True)
    blocks = []
    for own, sources in rows:
        row = torch.zeros_like(sampled)
        if sources:
            row[list(sources)] = sampled[list(sources)]
        row[own] = True
        blocks.append(row.flatten().expand(tokens, -1))
    return torch.cat(blocks)


def masked_consistent_attention(
    attn: Attention, queries: torch.Tensor, keys: torch.Tensor, visible: torch.Tensor
) -> torch.Tensor:
    """One guidance half per batch row, every image in one sequence, SDPA with a mask.

    ``queries`` ``[halves, Nq, C]`` and ``keys`` ``[halves, Nk, C]`` are the layer
    inputs (after group norm); ``visible`` is ``[Nq, Nk]``. Returns the output
    after ``to_out`` (the attention module must have no residual or rescale).
    """
    halves = queries.shape[0]
    query = attn.to_q(queries)
    key = attn.to_k(keys)
    value = attn.to_v(keys)
    head_dim = key.shape[-1] // attn.heads
    query, key, value = (
        t.view(halves, -1, attn.heads, head_dim).transpose(1, 2) for t in (query, key, value)
    )
    hidden_states = F.scaled_dot_product_attention(query, key, value, attn_mask=visible)
    hidden_states = hidden_states.transpose(1, 2).reshape(halves, -1, attn.heads * head_dim)
    return attn.to_out[1](attn.to_out[0](hidden_states.to(query.dtype)))


@dataclass(frozen=True)
class Level:
    tokens: int
    channels: int
    heads: int


@dataclass(frozen=True)
class Case:
    level: Level
    kind: str
    identity_images: int


@dataclass(frozen=True)
class Timing:
    case: Case
    plain: float
    masked: float
    ours: float


def sdxl_attention(level: Level, device: torch.device, dtype: torch.dtype) -> Attention:
    """An SDXL ``attn1`` (64-channel heads, no q/k/v bias) with random weights."""
    attn = Attention(query_dim=level.channels, heads=level.heads, dim_head=64, out_bias=True)
    return attn.to(device=device, dtype=dtype).eval()


def single_entry_state(device: torch.device) -> ConsistencyState:
    """A state whose only layer is consistent at its only step."""
    schedule = ConsistencySchedule(1, (LAYER,), frozenset({(0, LAYER)}))
    sampler = TokenSampler(RATE, RATE, IMAGE_SIZE, IMAGE_SIZE)
    return ConsistencyState(schedule, sampler, device=device)


def write_runners(
    attn: Attention, case: Case, device: torch.device, dtype: torch.dtype
) -> tuple[Callable[[], object], ...]:
    """Plain, masked and ours for n identity images denoised together."""
    n, tokens, channels = case.identity_images, case.level.tokens, case.level.channels
    hidden = torch.randn(2 * n, tokens, channels, device=device, dtype=dtype)
    state = single_entry_state(device)
    state.begin_write(IdentityCache(), seed=0, images=n)
    indices = state.sampler.indices(0, 0, 0, n, tokens).to(device)
    visible = official_visibility(tokens, indices, [(i, range(n)) for i in range(n)])
    joined = hidden.view(2, n * tokens, channels)
    processor = ConsistentAttnProcessor().bind(state, LAYER)
    return (
        lambda: AttnProcessor2_0()(attn, hidden),
        lambda: masked_consistent_attention(attn, joined, joined, visible),
        lambda: processor(attn, hidden),
    )


def read_runners(
    attn: Attention, case: Case, device: torch.device, dtype: torch.dtype
) -> tuple[Callable[[], object], ...]:
    """Plain, masked and ours for one panel naming a character of n identity images."""
    n, tokens, channels = case.identity_images, case.level.tokens, case.level.channels
    panel = torch.randn(2, tokens, channels, device=device, dtype=dtype)
    identity = torch.randn(2, n * tokens, channels, device=device, dtype=dtype)
    state = single_entry_state(device)
    indices = state.sampler.indices(0, 0, 0, n, tokens).to(device)
    cache = IdentityCache()
    sampled = identity.view(2, n, tokens, channels)[:, torch.arange(n)[:, None], indices]
    cache.put(0, LAYER, sampled.flatten(1, 2))
    state.begin_read([[cache]], seed=1)
    both = torch.cat([identity, panel], dim=1)
    visible = official_visibility(tokens, torch.cat([indices, indices[:1]]), [(n, range(n))])
    processor = ConsistentAttnProcessor().bind(state, LAYER)
    return (
        lambda: AttnProcessor2_0()(attn, panel),
        lambda: masked_consistent_attention(attn, panel, both, visible),
        lambda: processor(attn, panel),
    )


def interleaved_medians(
    runners: Sequence[Callable[[], object]],
    device: torch.device,
    *,
    repeats: int,
    budget_s: float,
    warm_up: bool,
) -> list[float]:
    """Median wall time of each runner over rounds that call every runner once.

    Interleaving spreads any load from other processes over all runners alike.
    Rounds stop after ``repeats`` or once a round finds ``budget_s`` per runner
    spent; at least one round runs. A warm-up round comes first when asked for.
    """
    if warm_up:
        for run in runners:
            run()
    times: list[list[float]] = [[] for _ in runners]
    while not times[0] or (
        len(times[0]) < repeats and sum(map(sum, times)) < budget_s * len(runners)
    ):
        for run, measured in zip(runners, times, strict=True):
            _synchronize(device)
            start = time.perf_counter()
            run()
            _synchronize(device)
            measured.append(time.perf_counter() - start)
    return [statistics.median(measured) for measured in times]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Protocol:
    """How each implementation is timed on a device."""

    repeats: int
    budget_s: float
    warm_up_every_case: bool


def protocol_for(device: torch.device, quick: bool, repeats: int | None) -> Protocol:
    """Warm up and repeat generously on a GPU; on a CPU, where one call at
    these shapes takes seconds, warm up once and cap the time per measurement."""
    if device.type == "cuda":
        return Protocol(repeats or (3 if quick else 10), math.inf, True)
    return Protocol(repeats or (1 if quick else 3), 3.0, False)


def time_case(
    case: Case, device: torch.device, dtype: torch.dtype, protocol: Protocol, warm_up: bool
) -> Timing:
    torch.manual_seed(0)
    attn = sdxl_attention(case.level, device, dtype)
    build = write_runners if case.kind == "write" else read_runners
    runners = build(attn, case, device, dtype)
    seconds = interleaved_medians(
        runners,
        device,
        repeats=protocol.repeats,
        budget_s=protocol.budget_s,
        warm_up=warm_up or protocol.warm_up_every_case,
    )
    return Timing(case, *seconds)


def cases(quick: bool, full: bool, device: torch.device) -> list[Case]:
    """Both levels: a panel reading 1 and 4 identity images; writing 4 of them.

    Reading is what every panel pays. Writing one identity image shares
    nothing (ours is plain attention) and is left out. Writing 4 at 4,096
    tokens costs about 2 min per round on a 2-core CPU, so there it runs only
    with ``--full``. ``--quick`` keeps the 1,024-token level's reads.
    """
    if quick:
        level = Level(1024, 1280, 20)
        return [Case(level, "read", 1), Case(level, "read", 4)]
    chosen = []
    for level in (Level(1024, 1280, 20), Level(4096, 640, 10)):
        chosen += [Case(level, "read", 1), Case(level, "read", 4)]
        if full or device.type == "cuda" or level.tokens <= 1024:
            chosen.append(Case(level, "write", 4))
    return chosen


def print_table(timings: list[Timing]) -> None:
    header = (
        f"{'tokens x ch':>12} {'heads':>5} {'pass':>5} {'ids':>3} "
        f"{'plain ms':>9} {'masked ms':>10} {'ours ms':>9} {'masked/ours':>11} {'ours/plain':>10}"
    )
    print(header)
    print("-" * len(header))
    for t in timings:
        level = t.case.level
        print(
            f"{f'{level.tokens} x {level.channels}':>12} {level.heads:>5} {t.case.kind:>5} "
            f"{t.case.identity_images:>3} {t.plain * 1e3:>9.1f} {t.masked * 1e3:>10.1f} "
            f"{t.ours * 1e3:>9.1f} {t.masked / t.ours:>11.2f} {t.ours / t.plain:>10.2f}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--quick", action="store_true", help="1,024-token reads only, fewer repeats"
    )
    parser.add_argument("--full", action="store_true", help="every case, even slow ones on CPU")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    protocol = protocol_for(device, args.quick, args.repeats)
    print(f"device {device}, {dtype}, torch {torch.__version__}, rate {RATE}, CFG batch")
    print(
        f"median of up to {protocol.repeats} interleaved rounds within {protocol.budget_s} s "
        "per implementation, warm-up "
        + ("before each" if protocol.warm_up_every_case else "once, before the first case")
    )
    chosen = cases(args.quick, args.full, device)
    with torch.inference_mode():
        timings = [
            time_case(case, device, dtype, protocol, warm_up=i == 0)
            for i, case in enumerate(chosen)
        ]
    print_table(timings)
    ratio = math.exp(statistics.fmean(math.log(t.masked / t.ours) for t in timings))
    print(f"masked/ours time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
