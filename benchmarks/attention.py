"""Consistent Self-Attention: our gathered processor against the official masked style.

Times one SDXL ``attn1`` layer at its real shapes (1,024 tokens x 1,280
channels, 20 heads; 4,096 tokens x 640 channels, 10 heads) with a
classifier-free-guidance batch ([uncond x B; cond x B]), rate 0.5, for two passes:

- ``write``: a character's n identity images denoised together;
- ``read``: one panel attending to a character with n identity images.

Three implementations run side by side, each once per round:

- ``plain``: diffusers' ``AttnProcessor2_0`` on the same batch (no sharing), the floor.
- ``masked``: the official first release, as its ``SpatialAttnProcessor2_0``
  does it. The step's boolean mask is built like its ``cal_attn_mask_xl`` for
  n identity images plus one panel: one Bernoulli(rate) draw per token says
  which tokens the other images see, an image always sees its own tokens.
  WRITE: each guidance half's n images are one sequence of n*N tokens; queries,
  keys and values are projected from all of them, and SDPA gets the top-left
  n*N x n*N corner of that mask (a strided view, as in the original). READ: per
  guidance half, the cached full hidden states of the n identity images and the
  panel's own N tokens are concatenated (inside the timed call, as the original
  does at every layer) into (n+1)*N tokens, all projected to keys and values;
  the mask's last N rows select the panel's own tokens and the sampled ones.
  Building the mask happens once per step for all 36 layers and is not timed.
- ``ours``: :class:`ConsistentAttnProcessor` with its state: the batch's own
  tokens projected once, sampled rows gathered from those projections, no mask;
  WRITE also records the sampled input tokens into an identity cache; READ
  projects the cached sampled input tokens (n*k) once per call.

Columns: ``plain ms``, ``masked ms``, ``ours ms`` are the median time of one
layer call (group norm to ``to_out``) over interleaved rounds: wall time on a
GPU, CPU time of the process on a CPU with one thread (the default; other
processes' load does not inflate it), wall time with ``--threads`` above 1.
``masked/ours`` is how many times slower the official style is, ``ours/plain``
what sharing costs over plain attention.

Usage: ``python benchmarks/attention.py [--device cuda] [--quick] [--full] [--threads N]``;
``--full-unet`` instead times the full SDXL UNet at 1024 px (:mod:`full_unet`;
last line ``consistent/plain panel time ratio, window of 6: X.XX``)
(on CPU one thread and 3 rounds of every case by default, about 5 min on a 2-core
CPU; ``--quick`` about 20 s).
The last line is ``masked/ours time ratio: X.XX``, the geometric mean over the
cases. :func:`official_visibility` and :func:`masked_consistent_attention` are
also the tests' ground truth (there with fixed sampled indices, not Bernoulli).
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


def official_step_mask(
    identity_images: int, tokens: int, rate: float, device: torch.device
) -> torch.Tensor:
    """One level's mask of a step as the official ``cal_attn_mask_xl`` builds it.

    For ``identity_images`` images plus one panel (the official ``total_length``):
    ``[(n+1)*N, (n+1)*N]`` booleans; row block i shows image i all its own
    tokens and every identity image's tokens that won a Bernoulli(rate) draw
    (one draw per token, shared by all rows). No row sees the panel's tokens
    but the panel's own rows.
    """
    total = identity_images + 1
    drawn = torch.rand(1, total * tokens, device=device) < rate
    blocks = drawn.repeat(total, 1)
    blocks[:, identity_images * tokens :] = False
    for image in range(total):
        blocks[image, image * tokens : (image + 1) * tokens] = True
    return blocks.unsqueeze(1).repeat(1, tokens, 1).reshape(-1, total * tokens)


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
    visible = official_step_mask(n, tokens, RATE, device)[: n * tokens, : n * tokens]
    processor = ConsistentAttnProcessor().bind(state, LAYER)

    def masked() -> torch.Tensor:
        joined = hidden.view(2, n * tokens, channels)
        return masked_consistent_attention(attn, joined, joined, visible)

    return (
        lambda: AttnProcessor2_0()(attn, hidden),
        masked,
        lambda: processor(attn, hidden),
    )


def read_runners(
    attn: Attention, case: Case, device: torch.device, dtype: torch.dtype
) -> tuple[Callable[[], object], ...]:
    """Plain, masked and ours for one panel naming a character of n identity images.

    The masked style reads the identity images' full hidden states (its bank
    holds ``[uncond x n]`` and ``[cond x n]``); ours reads an identity cache of
    their sampled tokens, as a WRITE pass leaves it.
    """
    n, tokens, channels = case.identity_images, case.level.tokens, case.level.channels
    panel = torch.randn(2, tokens, channels, device=device, dtype=dtype)
    bank = torch.randn(2, n, tokens, channels, device=device, dtype=dtype)
    state = single_entry_state(device)
    indices = state.sampler.indices(0, 0, 0, n, tokens).to(device)
    cache = IdentityCache()
    cache.put(0, LAYER, bank[:, torch.arange(n)[:, None], indices].flatten(1, 2))
    state.begin_read([[cache]], seed=1)
    visible = official_step_mask(n, tokens, RATE, device)[n * tokens :]
    processor = ConsistentAttnProcessor().bind(state, LAYER)

    def masked() -> torch.Tensor:
        joined = torch.cat((bank[0], panel[:1], bank[1], panel[1:]))
        keys = joined.view(2, (n + 1) * tokens, channels)
        return masked_consistent_attention(attn, panel, keys, visible)

    return (
        lambda: AttnProcessor2_0()(attn, panel),
        masked,
        lambda: processor(attn, panel),
    )


def interleaved_medians(
    runners: Sequence[Callable[[], object]],
    device: torch.device,
    *,
    repeats: int,
    warm_up: bool,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Median time of each runner on ``clock`` over rounds that call every runner once.

    Interleaving spreads any load from other processes over all runners alike.
    A warm-up round comes first when asked for.
    """
    if warm_up:
        for run in runners:
            run()
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(repeats):
        for run, measured in zip(runners, times, strict=True):
            _synchronize(device)
            start = clock()
            run()
            _synchronize(device)
            measured.append(clock() - start)
    return [statistics.median(measured) for measured in times]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass(frozen=True)
class Protocol:
    """How each implementation is timed on a device."""

    repeats: int
    warm_up_every_case: bool
    clock: Callable[[], float]
    clock_name: str


def protocol_for(device: torch.device, quick: bool, repeats: int | None, threads: int) -> Protocol:
    """Warm up before each case and repeat generously on a GPU, on wall time.

    On a CPU, where one call at these shapes takes seconds, warm up once and
    take 3 rounds of every case. With one thread the clock is the process's
    CPU time: on a shared machine, wall time also counts the time other
    processes hold the core, which swings a median of 3 by tens of percent.
    """
    if device.type == "cuda":
        return Protocol(repeats or (3 if quick else 10), True, time.perf_counter, "wall time")
    if threads == 1:
        return Protocol(repeats or 3, False, time.process_time, "process CPU time")
    return Protocol(repeats or 3, False, time.perf_counter, "wall time")


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
        warm_up=warm_up or protocol.warm_up_every_case,
        clock=protocol.clock,
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
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads (default 1: a shared machine)"
    )
    parser.add_argument(
        "--full-unet",
        action="store_true",
        help="the full SDXL UNet at 1024 px, one step, plain against consistent (CPU, ~12 min)",
    )
    parser.add_argument(
        "--identity-images", type=int, default=2, help="with --full-unet (default 2)"
    )
    parser.add_argument(
        "--layers-only", action="store_true", help="with --full-unet: the layers, no UNet call"
    )
    args = parser.parse_args(argv)
    if args.full_unet:
        run_full_unet(args)
        return
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    protocol = protocol_for(device, args.quick, args.repeats, args.threads)
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(f"device {device}{threads}, {dtype}, torch {torch.__version__}, rate {RATE}, CFG batch")
    print(
        f"median {protocol.clock_name} of {protocol.repeats} interleaved rounds, warm-up "
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


def run_full_unet(args: argparse.Namespace) -> None:
    """``--full-unet``: see :mod:`full_unet`; ``--repeats`` whole-UNet rounds (default 1)."""
    import full_unet
    from cache_footprint import sdxl_unet_config

    if args.device != "cpu":
        raise SystemExit("--full-unet runs on the CPU only for now.")
    torch.set_num_threads(args.threads)
    clock, clock_name = full_unet.clock_for(args.threads)
    print(f"device cpu, {torch.get_num_threads()} threads, torch {torch.__version__}")
    full_unet.IDENTITY_IMAGES = args.identity_images
    full_unet.report(
        sdxl_unet_config(),
        args.repeats or 1,
        1 if args.quick else 3,
        clock,
        clock_name,
        layers_only=args.layers_only,
    )


if __name__ == "__main__":
    main()
