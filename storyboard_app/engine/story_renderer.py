"""Rendering a story with Consistent Self-Attention on a loaded diffusers pipeline.

Reads like a pipeline: check the request, draw the step/layer schedule from its
seed, build (or load) each named character's identity cache by denoising its
identity prompts together, then render the panels in windows of at most
``window_size`` images that read the caches of the characters they name.

A panel's image depends on its own parameters only, so a take re-renders from
its recorded parameters whatever panels it is batched with: each image has its
own torch generator, seeded from its seed, for its initial noise and for the
noise that ancestral and SDE schedulers add at every step; it attends to its
own tokens and its characters' caches only (unless the opt-in
``share_between_panels``); and on the CPU each panel is its own pipeline call,
because batched CPU kernels (oneDNN convolutions, small matrix products) round
differently with the batch size. On an accelerator a window is one call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from storyboard_app.engine.cache_store import (
    EMBEDS_DIR,
    budget_bytes,
    cache_path,
    evict_caches,
    remove_leftovers,
)
from storyboard_app.engine.consistency_state import ConsistencySchedule, ConsistencyState
from storyboard_app.engine.consistent_attention import consistent_attention, consistent_layer_names
from storyboard_app.engine.devices import dtype_name, translate_oom
from storyboard_app.engine.identity_cache import (
    IdentityBank,
    IdentityCache,
    IdentitySink,
    identity_cache_key,
)
from storyboard_app.engine.identity_cache_file import IdentityCacheWriter, open_identity_cache
from storyboard_app.engine.loading import LoadedPipeline, set_scheduler
from storyboard_app.engine.pipeline_options import decode_per_image, freeu
from storyboard_app.engine.preview import LatentPreviews
from storyboard_app.engine.render_request import (
    CancelCheck,
    CharacterIdentity,
    EventSink,
    IdentityReady,
    PanelJob,
    PanelRendered,
    RenderCancelled,
    RenderProgress,
    RenderRequest,
)
from storyboard_app.engine.steering.ip_adapter import (
    IpAdapterPlan,
    IpAdapterSet,
    PictureEmbeddings,
    embed_pictures,
    ip_adapter_key,
    loaded_ip_adapters,
    plan_ip_adapters,
    read_adapter,
)
from storyboard_app.engine.steering.loras import activate, loaded_loras, lora_key
from storyboard_app.engine.steering.reference import (
    ReferenceInPass,
    ReferenceTokens,
    picture_slot,
    reference_key,
    uses_reference,
)
from storyboard_app.engine.steering.styles import style_key, styled_negative
from storyboard_app.project.errors import ValidationError
from storyboard_app.project.grammar import plural
from storyboard_app.project.records import TakeParams
from storyboard_app.project.seeds import derive_seed
from storyboard_app.project.settings import auto_size

StepCallback = Callable[[int, torch.Tensor], None]
ImageSink = Callable[[int, Image.Image, TakeParams], None]
"""Where a finished panel's picture goes: (scene id, picture, what its take records)."""


@dataclass(frozen=True)
class DenoisePass:
    """One pipeline call: a batch of prompts, each image with its own seed."""

    stage: str
    label: str
    prompts: tuple[str, ...]
    negative_prompts: tuple[str, ...]
    seeds: tuple[int, ...]
    preview_keys: tuple[int | str, ...]


class StoryRenderer:
    """Renders :class:`RenderRequest` s on one loaded pipeline (kept warm between jobs)."""

    def __init__(self, loaded: LoadedPipeline, *, batch_panels: bool | None = None) -> None:
        """``batch_panels``: a window in one pipeline call (default: on accelerators only)."""
        self.loaded = loaded
        self.pipe = loaded.pipe
        self.batch_panels = (
            torch.device(loaded.device).type != "cpu" if batch_panels is None else batch_panels
        )
        self.picture_embeddings = PictureEmbeddings()  # kept warm with the pipeline
        self._ip_adapters: IpAdapterSet | None = None  # the render's, while it runs

    def render(
        self,
        request: RenderRequest,
        on_event: EventSink,
        is_cancelled: CancelCheck = lambda: False,
        on_image: ImageSink | None = None,
    ) -> None:
        """Render every panel of ``request``, reporting progress and each finished panel.

        A finished panel is a :class:`PanelRendered` event with its PNG, or, when
        ``on_image`` is given, the picture itself handed to ``on_image``, so a
        caller can encode it on another thread while the next panel denoises.
        Raises :class:`RenderCancelled` between steps when ``is_cancelled`` says so;
        panels already reported stay valid, the one in flight is dropped.
        """
        check_request(request)
        needed = list(dict.fromkeys(name for p in request.panels for name in p.characters))
        finished = on_image or encoded_into(on_event)
        self._run(request, needed, request.panels, on_event, is_cancelled, finished)

    def build_identities(
        self,
        request: RenderRequest,
        on_event: EventSink,
        is_cancelled: CancelCheck = lambda: False,
    ) -> None:
        """Build (or load) the identity cache of every character of ``request``; no panels.

        The caches land on disk under the keys a later render of the story looks up,
        so its first panel starts at once.
        """
        check_characters(request)
        names = [character.name for character in request.characters]
        self._run(request, names, (), on_event, is_cancelled, encoded_into(on_event))

    def _run(
        self,
        request: RenderRequest,
        needed: Sequence[str],
        panels: Sequence[PanelJob],
        on_event: EventSink,
        is_cancelled: CancelCheck,
        finished: ImageSink,
    ) -> None:
        """Identity caches of ``needed`` first, then ``panels`` in windows."""
        request = self.sized(request)
        if self.loaded.scheduler != request.scheduler:
            self.loaded = set_scheduler(self.loaded, request.scheduler)
        layers = consistent_layer_names(self.pipe.unet, request.consistency.blocks)
        schedule = ConsistencySchedule.draw(request.schedule_seed, request.steps, layers)
        state = ConsistencyState.from_settings(
            request.consistency,
            schedule,
            height=request.height,
            width=request.width,
            device=self.loaded.device,
        )
        batches = [
            same_steering
            for window in batched(panels, request.consistency.window_size)
            for batch in self._panel_batches(window, request.consistency.share_between_panels)
            for same_steering in split_by_steering(request, batch)
        ]
        counter = PassCounter(len(batches) + len(needed))
        caches: dict[str, IdentityBank] = {}
        ip_plan = plan_ip_adapters(request, needed)
        with (
            torch.inference_mode(),
            translate_oom(),
            loaded_loras(self.pipe, request.loras),
            self._with_ip_adapters(request, ip_plan),
            self._pipeline_options(request),
            consistent_attention(self.pipe.unet, state),
        ):
            try:
                for name in needed:
                    caches[name] = self._identity_cache(
                        request,
                        request.character(name),
                        state,
                        schedule,
                        counter,
                        on_event,
                        is_cancelled,
                    )
                keep_under_budget(request, caches.values())
                for batch in batches:
                    self._render_window(
                        request, batch, caches, state, counter, on_event, is_cancelled, finished
                    )
            finally:
                close_caches(caches.values())

    def sized(self, request: RenderRequest) -> RenderRequest:
        """``request`` with auto sides fitted to the loaded architecture: the aspect ratio at
        its native pixel count when both are auto, its native side when one is."""
        width, height = auto_size(
            request.width, request.height, request.aspect_ratio, self.loaded.architecture
        )
        return dataclasses.replace(request, width=width, height=height)

    @contextmanager
    def _with_ip_adapters(self, request: RenderRequest, plan: IpAdapterPlan) -> Iterator[None]:
        """The plan's adapters loaded, with every character's picture embedded, for a render."""
        if not plan.jobs:
            yield
            return
        states = {adapter: read_adapter(files.weights) for adapter, files in plan.files.items()}
        folder = None if request.cache_dir is None else request.cache_dir / EMBEDS_DIR
        embeds = embed_pictures(
            plan, states, self.picture_embeddings, folder, self.pipe.unet, self.loaded.device
        )
        guided = request.guidance > 1 and self.pipe.unet.config.time_cond_proj_dim is None
        with loaded_ip_adapters(self.pipe, [states[adapter] for adapter in plan.adapters]):
            self._ip_adapters = IpAdapterSet(self.pipe, plan, embeds, guided)
            try:
                yield
            finally:
                self._ip_adapters = None

    def _ip_kwargs(self, names: Sequence[str]) -> dict[str, object]:
        """The pipeline arguments of a pass of ``names`` (none without adapters)."""
        return {} if self._ip_adapters is None else self._ip_adapters.call_kwargs(names)

    @contextmanager
    def _pipeline_options(self, request: RenderRequest) -> Iterator[None]:
        """FreeU as asked, and the VAE decoding one image at a time, for this render."""
        with (
            freeu(self.pipe, self.loaded.architecture, request.freeu == "on"),
            decode_per_image(self.pipe, request.width, request.height),
        ):
            yield

    def _panel_batches(self, window: Sequence[PanelJob], share: bool) -> list[tuple[PanelJob, ...]]:
        """Pipeline calls for a window: all of it at once, or one panel at a time.

        Panels that share tokens must be denoised together; otherwise the
        window is split where batching would change an image's rounding.
        """
        if share or self.batch_panels:
            return [tuple(window)]
        return [(panel,) for panel in window]

    def _identity_cache(
        self,
        request: RenderRequest,
        character: CharacterIdentity,
        state: ConsistencyState,
        schedule: ConsistencySchedule,
        counter: PassCounter,
        on_event: EventSink,
        is_cancelled: CancelCheck,
    ) -> IdentityBank:
        """Open the character's cache on disk when its key matches, else build and save it."""
        key = self._identity_key(request, character, schedule)
        path = cache_path(request.cache_dir, character.name, key)
        counter.next()
        if path is not None and path.is_file():
            try:
                cache = open_identity_cache(path, key=key)
            except Exception as error:  # a cache is disposable: any damage means rebuild
                _log.warning(
                    "Identity cache %s of %s is damaged (%s); rebuilding it.",
                    path.name,
                    character.name,
                    error,
                )
                path.unlink(missing_ok=True)
            else:
                on_event(IdentityReady(character.name, built=False, nbytes=cache.nbytes))
                return cache
        identity_pass = identity_denoise_pass(
            character, styled_negative(request.style, character.negative_prompt)
        )
        if path is None:
            cache = IdentityCache(key, precision=request.identity_cache_precision)
            self._write_identity(
                request, character, cache, state, identity_pass, counter, on_event, is_cancelled
            )
        else:
            cache = self._build_to_disk(
                request, character, key, path, state, identity_pass, counter, on_event, is_cancelled
            )
        on_event(IdentityReady(character.name, built=True, nbytes=cache.nbytes))
        return cache

    def identity_cache_file(self, request: RenderRequest, name: str) -> Path | None:
        """Where a render of ``request`` looks for (and saves) the cache of character ``name``.

        Lets a farm driver see which caches a project lacks, and ship the file
        under the name a worker's render will look up, without loading anything.
        """
        request = self.sized(request)
        layers = consistent_layer_names(self.pipe.unet, request.consistency.blocks)
        schedule = ConsistencySchedule.draw(request.schedule_seed, request.steps, layers)
        key = self._identity_key(request, request.character(name), schedule)
        return cache_path(request.cache_dir, name, key)

    def _identity_key(
        self, request: RenderRequest, character: CharacterIdentity, schedule: ConsistencySchedule
    ) -> str:
        """The key of a character's cache: everything its tokens depend on."""
        return identity_cache_key(
            model=request.model_source,
            architecture=self.loaded.architecture,
            dtype=dtype_name(self.loaded.dtype),
            width=request.width,
            height=request.height,
            steps=request.steps,
            guidance=request.guidance,
            scheduler=request.scheduler,
            description=character.description,
            negative_prompt=character.negative_prompt,
            seed=character.seed,
            identity_prompts=list(character.identity_prompts),
            consistency=request.identity_record(),
            freeu=request.freeu,
            schedule=schedule.digest(),
            precision=request.identity_cache_precision,
            **reference_key(character),
            **style_key(request.style),
            **lora_key(request.loras_for((character.name,))),
            **ip_adapter_key(character.ip_adapter),
        )

    def _build_to_disk(
        self,
        request: RenderRequest,
        character: CharacterIdentity,
        key: str,
        path: Path,
        state: ConsistencyState,
        identity_pass: DenoisePass,
        counter: PassCounter,
        on_event: EventSink,
        is_cancelled: CancelCheck,
    ) -> IdentityBank:
        """Denoise the identity batch straight into its cache file (a few steps in memory)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = IdentityCacheWriter(
            path,
            key,
            precision=request.identity_cache_precision,
            metadata={"character": character.name, "summary": cache_summary(request, character)},
            planned=state.schedule.consistent,
        )
        try:
            self._write_identity(
                request, character, writer, state, identity_pass, counter, on_event, is_cancelled
            )
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def _write_identity(
        self,
        request: RenderRequest,
        character: CharacterIdentity,
        sink: IdentitySink,
        state: ConsistencyState,
        identity_pass: DenoisePass,
        counter: PassCounter,
        on_event: EventSink,
        is_cancelled: CancelCheck,
    ) -> None:
        """Denoise the identity batch into ``sink``, with the reference picture if it has one.

        The picture is the batch's last image, kept at each step's noise level;
        only ``strength`` of its sampled tokens reach the cache.
        """
        reference = uses_reference(character)
        picture = None
        if reference is not None:
            prompt, seed = picture_slot(character)
            identity_pass = dataclasses.replace(
                identity_pass,
                prompts=(*identity_pass.prompts, prompt),
                negative_prompts=(
                    *identity_pass.negative_prompts,
                    identity_pass.negative_prompts[0],
                ),
                seeds=(*identity_pass.seeds, seed),
            )
            images = len(identity_pass.prompts)
            picture = ReferenceInPass.prepare(
                self.pipe, character, (request.width, request.height), index=images - 1
            )
            sink = ReferenceTokens(sink, images, reference.strength)
        state.begin_write(sink, seed=character.seed, images=len(identity_pass.prompts))
        activate(self.pipe, request.loras, request.loras_for((character.name,)))
        extra = self._ip_kwargs((character.name,))
        self._denoise(
            request, identity_pass, state, counter, on_event, is_cancelled, picture, extra
        )

    def _render_window(
        self,
        request: RenderRequest,
        window: Sequence[PanelJob],
        caches: dict[str, IdentityBank],
        state: ConsistencyState,
        counter: PassCounter,
        on_event: EventSink,
        is_cancelled: CancelCheck,
        finished: ImageSink,
    ) -> None:
        counter.next()
        panel_pass = DenoisePass(
            stage="panel",
            label=", ".join(str(p.number) for p in window),
            prompts=tuple(p.prompt for p in window),
            negative_prompts=tuple(p.negative_prompt for p in window),
            seeds=tuple(p.seed for p in window),
            preview_keys=tuple(p.scene_id for p in window),
        )
        share = request.consistency.share_between_panels
        state.begin_read(
            [[caches[name] for name in panel.characters] for panel in window],
            seed=derive_seed(request.schedule_seed, "panels:" + panel_pass.label),
            share_between_panels=share,
        )
        cast = tuple(name for panel in window for name in panel.characters)
        activate(self.pipe, request.loras, request.loras_for(cast))
        extra = self._ip_kwargs(cast)
        images = self._denoise(
            request, panel_pass, state, counter, on_event, is_cancelled, extra=extra
        )
        for panel, image in zip(window, images, strict=True):
            keys = [caches[name].key for name in panel.characters]
            shared_with = shared_panels(panel, window) if share else ()
            params = request.take_params(
                panel, identity_fingerprint(keys, shared=bool(shared_with)), shared_with
            )
            finished(panel.scene_id, image, params)

    def _denoise(
        self,
        request: RenderRequest,
        denoise_pass: DenoisePass,
        state: ConsistencyState,
        counter: PassCounter,
        on_event: EventSink,
        is_cancelled: CancelCheck,
        picture: ReferenceInPass | None = None,
        extra: dict[str, object] | None = None,
    ) -> list[Image.Image]:
        """One pipeline call; ``picture`` keeps a reference picture's slot noised, not denoised;
        ``extra``: more pipeline arguments (IP-Adapter embeddings)."""

        def on_step_end(pipe: object, step: int, timestep: object, tensors: dict) -> dict:
            if is_cancelled():
                raise RenderCancelled()
            state.begin_step(step + 1)
            latents = tensors["latents"]
            previews = LatentPreviews(latents, self.loaded.architecture, denoise_pass.preview_keys)
            on_event(
                RenderProgress(
                    stage=denoise_pass.stage,
                    label=denoise_pass.label,
                    step=step + 1,
                    steps=request.steps,
                    pass_index=counter.current,
                    pass_count=counter.total,
                    previews=previews,
                )
            )
            return {} if picture is None else {"latents": picture.after_step(step, latents)}

        if is_cancelled():
            raise RenderCancelled()
        generators = [torch.Generator().manual_seed(seed) for seed in denoise_pass.seeds]
        latents = self._initial_latents(request, generators)
        if picture is not None:
            latents = picture.initial(latents, request.steps)
        result = self.pipe(
            prompt=list(denoise_pass.prompts),
            negative_prompt=list(denoise_pass.negative_prompts),
            height=request.height,
            width=request.width,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            latents=latents,
            generator=generators,
            callback_on_step_end=on_step_end,
            callback_on_step_end_tensor_inputs=["latents"],
            output_type="pil",
            **(extra or {}),
        )
        return list(result.images)

    def _initial_latents(
        self, request: RenderRequest, generators: Sequence[torch.Generator]
    ) -> torch.Tensor:
        """Noise for each image from its own generator, drawn on the CPU so every device agrees.

        The pipeline then draws each image's step noise from the same generator.
        """
        scale = self.pipe.vae_scale_factor
        shape = (
            1,
            self.pipe.unet.config.in_channels,
            request.height // scale,
            request.width // scale,
        )
        noise = [torch.randn(shape, generator=generator) for generator in generators]
        return torch.cat(noise).to(device=self.loaded.device, dtype=self.loaded.dtype)


def split_by_steering(
    request: RenderRequest, batch: tuple[PanelJob, ...]
) -> list[tuple[PanelJob, ...]]:
    """A batch cut where the active LoRAs or IP-Adapter characters change: one call has
    one set of adapters, and the pipeline gives every image of a call the same embeddings."""

    def steering(panel: PanelJob) -> tuple[object, ...]:
        adapters = request.ip_adapters_for(panel.characters)
        return (request.loras_for(panel.characters), tuple(sorted(adapters)))

    return [tuple(group) for _, group in itertools.groupby(batch, key=steering)]


def identity_denoise_pass(character: CharacterIdentity, negative: str) -> DenoisePass:
    """The character's identity batch: its identity prompts, each with its own seed.

    ``negative``: the character's negative prompt with the style's added.
    """
    return DenoisePass(
        stage="identity",
        label=character.name,
        prompts=character.identity_prompts,
        negative_prompts=(negative,) * len(character.identity_prompts),
        seeds=tuple(
            derive_seed(character.seed, f"identity:{i}")
            for i in range(len(character.identity_prompts))
        ),
        preview_keys=(character.name,),
    )


class PassCounter:
    """Which pipeline call of the job is running, for overall progress."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.current = 0

    def next(self) -> None:
        self.current += 1


def check_request(request: RenderRequest) -> None:
    """Refuse a request that cannot render before any GPU work starts."""
    if not request.panels:
        raise ValidationError("There are no panels to render.", "Select at least one panel.")
    check_characters(request)
    names = {c.name for c in request.characters}
    for panel in request.panels:
        missing = [n for n in panel.characters if n not in names]
        if missing:
            raise ValidationError(
                f"Panel {panel.number} names {', '.join(missing)}, who is not in the request.",
                "Add the character to the project or remove it from the panel.",
            )


def check_characters(request: RenderRequest) -> None:
    """Sizes, steps and identity prompts: what identity caches need."""
    for name, value in (("width", request.width), ("height", request.height)):
        if value % 8:
            raise ValidationError(
                f"The {name} {value} is not a multiple of 8.", "Use a multiple of 8."
            )
    if request.steps < 1:
        raise ValidationError("A render needs at least one step.", "Use 1 or more steps.")
    for character in request.characters:
        if not character.identity_prompts:
            raise ValidationError(
                f"{character.name} has no identity prompts.", "Describe the character."
            )


_log = logging.getLogger(__name__)


def batched(items: Sequence[PanelJob], size: int) -> list[tuple[PanelJob, ...]]:
    iterator = iter(items)
    return list(iter(lambda: tuple(itertools.islice(iterator, size)), ()))


def cache_summary(request: RenderRequest, character: CharacterIdentity) -> str:
    """What ``storyboard cache`` shows of a cache's settings (its key is a hash)."""
    return (
        f"{request.width}x{request.height}, {plural(request.steps, 'step')}, {request.scheduler}, "
        f"{plural(len(character.identity_prompts), 'identity image')}, "
        f"{request.identity_cache_precision}, "
        f"model {Path(request.model_source).name or request.model_source}"
    )


def keep_under_budget(request: RenderRequest, in_use: Iterable[IdentityBank]) -> None:
    """Evict least recently used caches over the budget, never one this render reads,
    and the partial files that crashed builds left."""
    if request.cache_dir is not None and request.cache_dir.is_dir():
        keep = [cache.path for cache in in_use if isinstance(getattr(cache, "path", None), Path)]
        evict_caches(request.cache_dir, budget_bytes(request.identity_cache_budget_gb), keep)
        remove_leftovers(request.cache_dir)


def close_caches(caches: Iterable[object]) -> None:
    """Close the caches opened from disk (their mappings and staging buffers)."""
    for cache in caches:
        close = getattr(cache, "close", None)
        if close is not None:
            close()


def identity_fingerprint(keys: Iterable[str], *, shared: bool = False) -> str:
    """Which identities a panel was rendered against, so edits can mark it stale.

    A panel that also saw other panels' tokens depends on them: marked apart.
    """
    joined = "\n".join(sorted(keys)) + ("\nshared between panels" if shared else "")
    return hashlib.sha256(joined.encode()).hexdigest() if joined else ""


def shared_panels(panel: PanelJob, window: Sequence[PanelJob]) -> tuple[int, ...]:
    """Scene ids of the panels whose tokens ``panel`` saw: the same cast, in its window."""
    if not panel.characters:
        return ()
    cast = set(panel.characters)
    return tuple(
        other.scene_id
        for other in window
        if other.scene_id != panel.scene_id and set(other.characters) == cast
    )


def encoded_into(on_event: EventSink) -> ImageSink:
    """An image sink that PNG-encodes each panel here and reports it to ``on_event``."""

    def finished(scene_id: int, image: Image.Image, params: TakeParams) -> None:
        on_event(PanelRendered(scene_id, png_bytes(image), params))

    return finished


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
