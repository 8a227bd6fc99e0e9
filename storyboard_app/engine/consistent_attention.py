"""Consistent Self-Attention (StoryDiffusion, arXiv 2405.01434) as a diffusers processor.

In the UNet's self-attention layers each image keeps its own queries, and its
keys and values are its own tokens followed by tokens sampled from the other
images it should agree with (the images of a character's identity batch, or
panels of one cast when sharing between panels is on) and, for panels, the
cached tokens of the characters it names. Nothing is trained.

Unlike the official code, extra tokens are gathered by index (the cost grows
with the sampled tokens, not with a mask over every token of the batch) and
attention runs without a mask, so PyTorch's fused kernels apply. All state
lives in an explicit :class:`ConsistencyState`; the processor itself has an
argument-free constructor because diffusers rebuilds processors by calling
their class (IP-Adapter loading), and an unbound processor attends plainly.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention

from storyboard_app.engine.consistency_state import ConsistencyState, LayerPlan, PanelGroup

TARGET_LAYER = "attn1"
EXCLUDED_PARTS = ("motion_modules",)


class ConsistentAttnProcessor:
    """Self-attention that shares sampled tokens between images, per its state's plan.

    Follows ``AttnProcessor2_0`` step by step; when the state says a layer is
    not consistent at this step (or there is nothing to share) it computes
    exactly what ``AttnProcessor2_0`` computes.
    """

    def __init__(self) -> None:
        self.state: ConsistencyState | None = None
        self.layer_name = ""

    def bind(self, state: ConsistencyState, layer_name: str) -> ConsistentAttnProcessor:
        """Attach the render's state and the name the schedule knows this layer by."""
        self.state = state
        self.layer_name = layer_name
        return self

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: object,
        **kwargs: object,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        spatial_shape = hidden_states.shape if hidden_states.ndim == 4 else None
        if spatial_shape is not None:
            batch, channels, height, width = spatial_shape
            hidden_states = hidden_states.view(batch, channels, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        plan = self._plan(hidden_states, encoder_hidden_states, attention_mask)
        if plan is None:
            hidden_states = plain_attention(
                attn, hidden_states, encoder_hidden_states, attention_mask
            )
        else:
            hidden_states = consistent_self_attention(attn, hidden_states, plan)

        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if spatial_shape is not None:
            hidden_states = hidden_states.transpose(-1, -2).reshape(spatial_shape)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor

    def _plan(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
    ) -> LayerPlan | None:
        """The state's plan; plain when unbound or not a mask-free self-attention call."""
        if self.state is None or encoder_hidden_states is not None or attention_mask is not None:
            return None
        batch, tokens, _ = hidden_states.shape
        return self.state.layer_plan(
            self.layer_name, batch, tokens, hidden_states.dtype, hidden_states.device
        )


def plain_attention(
    attn: Attention,
    hidden_states: torch.Tensor,
    encoder_hidden_states: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``AttnProcessor2_0`` between group norm and ``to_out``, unchanged."""
    batch_size, sequence_length, _ = (
        hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
    )
    if attention_mask is not None:
        attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
        attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
    query = attn.to_q(hidden_states)
    if encoder_hidden_states is None:
        encoder_hidden_states = hidden_states
    elif attn.norm_cross:
        encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
    key = attn.to_k(encoder_hidden_states)
    value = attn.to_v(encoder_hidden_states)
    return _attend(attn, query, key, value, attention_mask)


def consistent_self_attention(
    attn: Attention, hidden_states: torch.Tensor, plan: LayerPlan
) -> torch.Tensor:
    """Self-attention over own tokens plus gathered shared tokens, before ``to_out``.

    Keys and values are projected once over the batch's own tokens, as in
    plain attention, and each read cache's tokens once per step and layer
    (:meth:`LayerPlan.cached_keys_values`), whichever groups read them; each
    image's keys and values are then gathered by index from one sequence of
    those projections. This equals projecting each image's ``cat(own,
    shared)`` tokens because the projections act per token (and ``norm_k``
    per head and token), without projecting the n-1 other images' sampled
    tokens again for every image, or a cache again for every group reading it.
    The guidance halves share indices but never each other's tokens.
    """
    query = attn.to_q(hidden_states)
    key = attn.to_k(hidden_states)
    value = attn.to_v(hidden_states)
    if plan.record_to is not None:
        sampled_inputs = _gather(_by_image(hidden_states, plan), plan.indices)
        plan.record(sampled_inputs.flatten(1, 2))

    bank = plan.cached_keys_values(attn)
    sources = _Sources(plan, key, value, bank)
    if len(plan.groups) == 1:
        return _group_attention(attn, plan, plan.groups[0], query, sources)
    output = _by_image(torch.empty_like(query), plan)
    for group in plan.groups:
        group_output = _group_attention(attn, plan, group, query, sources)
        output.index_copy_(1, group.image_index, group_output.unflatten(0, (plan.halves, -1)))
    return output.flatten(0, 1)


class _Sources:
    """Keys and values of one call: per half, the batch's own rows then each cache's.

    Built at most once per call, whatever the number of groups; a group
    attending only to its own tokens never builds it.
    """

    def __init__(
        self,
        plan: LayerPlan,
        key: torch.Tensor,
        value: torch.Tensor,
        bank: tuple[tuple[torch.Tensor, torch.Tensor], ...],
    ) -> None:
        self.plan = plan
        self.key = key
        self.value = value
        self.bank = bank
        self.cached_lengths = tuple(keys.shape[1] for keys, _ in bank)
        self._joined: tuple[torch.Tensor, torch.Tensor] | None = None

    def joined(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``[halves, images * N + L, D]`` keys and values."""
        if self._joined is None:
            halves = self.plan.halves
            own_keys = self.key.view(halves, -1, self.key.shape[-1])
            own_values = self.value.view(halves, -1, self.value.shape[-1])
            if self.bank:
                own_keys = torch.cat([own_keys, *(k for k, _ in self.bank)], dim=1)
                own_values = torch.cat([own_values, *(v for _, v in self.bank)], dim=1)
            self._joined = own_keys, own_values
        return self._joined


def _group_attention(
    attn: Attention,
    plan: LayerPlan,
    group: PanelGroup,
    query: torch.Tensor,
    sources: _Sources,
) -> torch.Tensor:
    """Attention of one group of images, whose extra tokens have the same length.

    A group that sees neither other images nor a cache (an ``[NC]`` panel)
    attends plainly to its own tokens; one that reads caches but sees no other
    image joins its own keys and the caches' by concatenation; only a group
    that sees others' sampled tokens gathers rows by index.
    """
    group_query = _select_images(_by_image(query, plan), group).flatten(0, 1)
    if not group.sees_others:
        keys, values = (
            _own_then_cached(plan, group, own, sources, i)
            for i, own in enumerate((sources.key, sources.value))
        )
        return _attend(attn, group_query, keys, values)
    keys, values = sources.joined()
    rows = _key_rows(plan, group, sources.key.shape[1], sources.cached_lengths)
    return _attend(
        attn,
        group_query,
        _rows_per_image(keys, rows, plan, group),
        _rows_per_image(values, rows, plan, group),
    )


def _own_then_cached(
    plan: LayerPlan, group: PanelGroup, own: torch.Tensor, sources: _Sources, part: int
) -> torch.Tensor:
    """Keys (``part`` 0) or values (1) of a group that sees no other image:
    ``[halves * len(group), N + L_group, D]``, each image's own rows then those of
    the caches its group reads, in the pass's order (one concatenation; no index
    tensor is built, so nothing per call waits on the host)."""
    mine = _select_images(_by_image(own, plan), group)
    if not group.reads:
        return mine.flatten(0, 1)
    count = len(group.images)
    cached = [sources.bank[position][part] for position in group.reads]
    expanded = [tokens[:, None].expand(-1, count, -1, -1) for tokens in cached]
    return torch.cat([mine, *expanded], dim=2).flatten(0, 1)


def _key_rows(
    plan: LayerPlan, group: PanelGroup, tokens: int, cached_lengths: tuple[int, ...]
) -> torch.Tensor:
    """Rows of one half's joined sequence each image of the group attends to.

    Per image of a guidance half: its own N tokens, the k sampled tokens of
    each other image it sees, then the tokens of each cache its group reads.
    A half's joined sequence is ``images * N`` batch tokens followed by every
    read cache's tokens in the pass's order; the result is
    ``[len(group), N + (others) * k + L_group]``.
    """
    device = group.image_index.device  # a pass that samples nothing has CPU indices
    own = group.image_index[:, None] * tokens + torch.arange(tokens, device=device)
    parts = [own]
    if group.others.shape[1]:
        sampled = plan.indices[group.others] + group.others[..., None] * tokens
        parts.append(sampled.flatten(1))
    starts = [plan.images * tokens]
    for length in cached_lengths:
        starts.append(starts[-1] + length)
    for position in group.reads:
        cached_rows = torch.arange(starts[position], starts[position + 1], device=device)
        parts.append(cached_rows.expand(len(group.images), -1))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _rows_per_image(
    joined: torch.Tensor, rows: torch.Tensor, plan: LayerPlan, group: PanelGroup
) -> torch.Tensor:
    """Each group image's keys (or values): ``[halves * len(group), len(rows[i]), D]``.

    One row gather from the call's joined sequence builds every image's
    sequence, both halves at once.
    """
    half_rows = joined.shape[1]
    offsets = torch.arange(plan.halves, device=rows.device)[:, None] * half_rows
    flat = (rows.flatten()[None] + offsets).flatten()
    gathered = joined.reshape(-1, joined.shape[-1]).index_select(0, flat)
    return gathered.view(plan.halves * len(group.images), rows.shape[1], -1)


def _attend(
    attn: Attention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Split heads, optional q/k norms, SDPA, merge heads (``AttnProcessor2_0``'s core)."""
    batch_size = query.shape[0]
    head_dim = key.shape[-1] // attn.heads
    query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
    key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
    value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
    if attn.norm_q is not None:
        query = attn.norm_q(query)
    if attn.norm_k is not None:
        key = attn.norm_k(key)
    hidden_states = F.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
    )
    hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
    return hidden_states.to(query.dtype)


def _by_image(tensor: torch.Tensor, plan: LayerPlan) -> torch.Tensor:
    """``[halves * images, N, D]`` viewed as ``[halves, images, N, D]``."""
    return tensor.view(plan.halves, plan.images, *tensor.shape[1:])


def _select_images(tensor: torch.Tensor, group: PanelGroup) -> torch.Tensor:
    """The group's images of dim 1, without a copy when it holds all of them in order."""
    return tensor if group.all_images else tensor.index_select(1, group.image_index)


def _gather(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Tokens ``indices[i]`` of every image i: ``[halves, images, N, D]`` -> ``[.., k, D]``."""
    halves, images, tokens, channels = tensor.shape
    offsets = torch.arange(images, device=indices.device)[:, None] * tokens
    flat = (indices + offsets).flatten()
    gathered = tensor.reshape(halves, images * tokens, channels).index_select(1, flat)
    return gathered.view(halves, images, indices.shape[1], channels)


def select_consistent_layers(
    processor_names: Iterable[str], blocks: Sequence[str]
) -> tuple[str, ...]:
    """Self-attention layers (``attn1``) under the named blocks, motion modules excluded.

    ``blocks`` are name prefixes matched on whole name components, so
    ``up_blocks.1`` selects ``up_blocks.1.…`` but not ``up_blocks.10.…``.
    """
    layers = []
    for name in processor_names:
        layer = name.removesuffix(".processor")
        if layer.rsplit(".", 1)[-1] != TARGET_LAYER:
            continue
        if any(part in layer for part in EXCLUDED_PARTS):
            continue
        if any(layer == block or layer.startswith(block + ".") for block in blocks):
            layers.append(layer)
    return tuple(layers)


def consistent_layer_names(unet: torch.nn.Module, blocks: Sequence[str]) -> tuple[str, ...]:
    """Names of the layers :func:`consistent_attention` replaces, to draw a schedule for."""
    return select_consistent_layers(unet.attn_processors, blocks)


@contextmanager
def consistent_attention(unet: torch.nn.Module, state: ConsistencyState) -> Iterator[list[str]]:
    """Install consistent processors on ``unet`` for a render; restore the old ones after.

    Yields the replaced layer names. Re-enter after ``load_ip_adapter`` or
    ``enable_attention_slicing``, which replace every processor.
    """
    originals = unet.attn_processors
    layers = select_consistent_layers(originals, state.blocks)
    if set(layers) != set(state.schedule.layers):
        raise ValueError(
            "The consistency schedule was drawn for other layers than this UNet's "
            f"{len(layers)} self-attention layers under {', '.join(state.blocks)}."
        )
    replacement = {
        name: ConsistentAttnProcessor().bind(state, name.removesuffix(".processor"))
        if name.removesuffix(".processor") in layers
        else processor
        for name, processor in originals.items()
    }
    unet.set_attn_processor(replacement)
    try:
        yield list(layers)
    finally:
        unet.set_attn_processor(dict(originals))
