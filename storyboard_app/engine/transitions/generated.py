"""Generated transitions: AnimateDiff frames held to two panels and steered frame by frame.

Reads like a diffusers pipeline: check the inputs, encode (panels into CLIP
image space, the predictor's path between them, the prompt), prepare the
keyframe conditioning and the latents, run the denoising loop, decode.

The loop is written here rather than calling the AnimateDiff pipeline
because that pipeline (and the motion UNet under it) repeats one IP-Adapter
embedding for every frame of a video. Here the UNet's image projection is
applied to one embedding per frame (``[uncond frames; cond frames]``, the
order of the UNet's flattened batch), and the projected tokens are passed as
the UNet's ``(text, [image tokens])`` encoder states, which its IP-Adapter
attention processors read per batch row. SparseCtrl RGB keyframes at frames
0 and F-1 hold the ends to the panels, so the clip starts and ends on them.

SDXL has no SparseCtrl model: there the panels' own latents replace frames 0
and F-1 after every step, noised to the level of the next step (clean after
the last), so the motion module fills the frames between two fixed ends. Its
UNet also takes the pooled text embedding and the size ids SDXL needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from storyboard_app.engine.devices import translate_oom
from storyboard_app.engine.transitions.classic import check_pair
from storyboard_app.engine.transitions.errors import TransitionCancelled, TransitionInputError
from storyboard_app.engine.transitions.motion_model import MotionModel
from storyboard_app.project.grammar import plural

MIN_FRAMES = 3
SIZE_MULTIPLE = 8
DECODE_CHUNK = 8
StepCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class MotionSettings:
    """One generated transition's settings (everything besides the model and the panels).

    ``frames`` includes the two end frames, which the keyframes hold to the
    panels. ``ip_adapter_scale`` is how strongly the predicted embeddings
    steer each frame; ``keyframe_strength`` how strongly the ends hold.
    """

    prompt: str = ""
    negative_prompt: str = ""
    frames: int = 16
    width: int = 512
    height: int = 512
    steps: int = 25
    guidance: float = 7.5
    seed: int = 0
    ip_adapter_scale: float = 0.6
    keyframe_strength: float = 1.0

    @property
    def uses_guidance(self) -> bool:
        return self.guidance > 1.0


def generate_motion_frames(
    model: MotionModel,
    start: np.ndarray,
    end: np.ndarray,
    settings: MotionSettings,
    on_step: StepCallback = lambda step, steps: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> list[np.ndarray]:
    """``settings.frames`` RGB frames from ``start`` to ``end`` (both ends included)."""
    check_motion_inputs(model, start, end, settings)
    with torch.inference_mode(), translate_oom():
        embeddings = predict_frame_embeddings(model, start, end, settings.frames)
        return render_frames(model, start, end, embeddings, settings, on_step, is_cancelled)


def check_motion_inputs(
    model: MotionModel, start: np.ndarray, end: np.ndarray, settings: MotionSettings
) -> None:
    """Raise a clear error for anything the model cannot do, before any model work."""
    check_pair(start, end)
    if not MIN_FRAMES <= settings.frames <= model.max_frames:
        raise TransitionInputError(
            f"A generated transition of {plural(settings.frames, 'frame')} is out of range.",
            f"Use {MIN_FRAMES} to {model.max_frames} frames (the motion module's limit).",
        )
    for name in ("width", "height"):
        value = getattr(settings, name)
        if value < 64 or value % SIZE_MULTIPLE:
            raise TransitionInputError(
                f"A generated transition {name} of {value} px is not usable.",
                f"Use at least 64 px, a multiple of {SIZE_MULTIPLE}.",
            )
    if settings.steps < 1:
        raise TransitionInputError("A generated transition needs at least one step.", "Use 1+.")
    if settings.ip_adapter_scale < 0 or settings.keyframe_strength < 0:
        raise TransitionInputError(
            "Conditioning strengths cannot be negative.", "Use values from 0 (off) upwards."
        )


def predict_frame_embeddings(
    model: MotionModel, start: np.ndarray, end: np.ndarray, frames: int
) -> torch.Tensor:
    """CLIP embeddings [frames, D] of every frame: the panels' at the ends, predicted between."""
    predictor_dtype = next(model.predictor.parameters()).dtype
    keys = model.encoder.encode([start, end]).to(model.device, predictor_dtype)
    first, last = keys[:1], keys[1:]
    between = model.predictor(first, last, frames - 2)[0]
    return torch.cat([first, between, last])


@dataclass
class FrameConditioning:
    """What steers every step: per-frame text and image tokens, and how the ends are held.

    ``added``: SDXL's pooled text and size ids (None for SD 1.5). ``keyframes``:
    SparseCtrl inputs (SD 1.5); ``ends`` and ``end_noise``: the panels' latents
    [1, 4, 2, h, w] and their fixed noise (SDXL).
    """

    text: torch.Tensor
    image_tokens: list[torch.Tensor]
    added: dict[str, torch.Tensor] | None = None
    keyframes: tuple[torch.Tensor, torch.Tensor] | None = None
    ends: torch.Tensor | None = None
    end_noise: torch.Tensor | None = field(default=None, repr=False)


def render_frames(
    model: MotionModel,
    start: np.ndarray,
    end: np.ndarray,
    embeddings: torch.Tensor,
    settings: MotionSettings,
    on_step: StepCallback = lambda step, steps: None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> list[np.ndarray]:
    """Denoise a clip whose frame ``i`` is steered by ``embeddings[i]`` ([frames, D])."""
    if embeddings.shape[0] != settings.frames:
        raise TransitionInputError(
            f"{plural(embeddings.shape[0], 'frame embedding')} were given for "
            f"{plural(settings.frames, 'frame')}.",
            "Give one embedding per frame.",
        )
    model.pipe.set_ip_adapter_scale(settings.ip_adapter_scale)
    text, added = encode_prompt(model, settings)
    conditioning = FrameConditioning(
        text, frame_image_tokens(model, embeddings, settings.uses_guidance), added
    )
    if model.holds_ends_with_keyframes:
        conditioning.keyframes = keyframe_conditioning(model, start, end, settings)
    elif settings.keyframe_strength > 0:
        conditioning.ends, conditioning.end_noise = end_latents(model, start, end, settings)
    latents = initial_latents(model, settings)
    latents = denoise(model, latents, conditioning, settings, on_step, is_cancelled)
    return decode(model, latents)


def encode_prompt(
    model: MotionModel, settings: MotionSettings
) -> tuple[torch.Tensor, dict[str, torch.Tensor] | None]:
    """Text states per frame, ``[uncond x F; cond x F]`` with guidance, else ``[cond x F]``.

    SDXL also gets its per-video extras: the pooled text embedding and the
    size ids (original size, crop 0,0, target size: the clip's size).
    """
    guidance = settings.uses_guidance
    if not model.is_sdxl:
        positive, negative = model.pipe.encode_prompt(
            settings.prompt, model.device, 1, guidance, settings.negative_prompt
        )
        states = torch.cat([negative, positive]) if guidance else positive
        return states.repeat_interleave(settings.frames, dim=0), None
    positive, negative, pooled, negative_pooled = model.pipe.encode_prompt(
        prompt=settings.prompt,
        device=model.device,
        num_videos_per_prompt=1,
        do_classifier_free_guidance=guidance,
        negative_prompt=settings.negative_prompt,
    )
    states = torch.cat([negative, positive]) if guidance else positive
    pooled_all = torch.cat([negative_pooled, pooled]) if guidance else pooled
    size = [settings.height, settings.width]
    time_ids = torch.tensor([[*size, 0, 0, *size]], dtype=states.dtype, device=model.device)
    added = {"text_embeds": pooled_all, "time_ids": time_ids.repeat(states.shape[0], 1)}
    return states.repeat_interleave(settings.frames, dim=0), added


def frame_image_tokens(
    model: MotionModel, embeddings: torch.Tensor, guidance: bool
) -> list[torch.Tensor]:
    """IP-Adapter tokens per frame, in the UNet's batch order; zeros are the unconditional half."""
    per_frame = embeddings.to(model.device, model.dtype)[:, None, :]
    if guidance:
        per_frame = torch.cat([torch.zeros_like(per_frame), per_frame])
    return model.image_projection([per_frame])


def keyframe_conditioning(
    model: MotionModel, start: np.ndarray, end: np.ndarray, settings: MotionSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """SparseCtrl inputs that hold frame 0 to ``start`` and the last frame to ``end``."""
    pipe = model.pipe
    images = [Image.fromarray(start), Image.fromarray(end)]
    prepared = pipe.prepare_image(
        images, settings.width, settings.height, model.device, pipe.controlnet.dtype
    )
    return pipe.prepare_sparse_control_conditioning(
        prepared, settings.frames, [0, settings.frames - 1], model.device, pipe.controlnet.dtype
    )


def end_latents(
    model: MotionModel, start: np.ndarray, end: np.ndarray, settings: MotionSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two panels as latents [1, 4, 2, h, w] and the seeded noise that levels them."""
    vae = model.pipe.vae
    pixels = model.pipe.video_processor.preprocess(
        [Image.fromarray(start), Image.fromarray(end)], settings.height, settings.width
    )
    encoded = vae.encode(pixels.to(model.device, vae.dtype)).latent_dist.mean
    ends = (encoded * vae.config.scaling_factor).permute(1, 0, 2, 3)[None].to(model.dtype)
    generator = torch.Generator("cpu").manual_seed(settings.seed + 1)
    noise = torch.randn(ends.shape, generator=generator, dtype=torch.float32)
    return ends, noise.to(model.device, model.dtype)


def hold_ends(
    model: MotionModel,
    latents: torch.Tensor,
    conditioning: FrameConditioning,
    timestep: torch.Tensor | None,
) -> torch.Tensor:
    """Frames 0 and F-1 set to the panels, noised to ``timestep`` (clean when None)."""
    ends, noise = conditioning.ends, conditioning.end_noise
    if ends is None or noise is None:
        return latents
    held = ends if timestep is None else model.pipe.scheduler.add_noise(ends, noise, timestep[None])
    latents = latents.clone()
    latents[:, :, 0], latents[:, :, -1] = held[:, :, 0], held[:, :, 1]
    return latents


def initial_latents(model: MotionModel, settings: MotionSettings) -> torch.Tensor:
    """Seeded noise [1, 4, F, h, w], drawn on the CPU so a seed gives the same clip anywhere."""
    pipe = model.pipe
    scale = pipe.vae_scale_factor
    shape = (
        1,
        pipe.unet.config.in_channels,
        settings.frames,
        settings.height // scale,
        settings.width // scale,
    )
    generator = torch.Generator("cpu").manual_seed(settings.seed)
    noise = torch.randn(shape, generator=generator, dtype=torch.float32)
    pipe.scheduler.set_timesteps(settings.steps, device=model.device)
    return (noise * pipe.scheduler.init_noise_sigma).to(model.device, model.dtype)


def denoise(
    model: MotionModel,
    latents: torch.Tensor,
    conditioning: FrameConditioning,
    settings: MotionSettings,
    on_step: StepCallback,
    is_cancelled: Callable[[], bool],
) -> torch.Tensor:
    """The denoising loop; cancel is checked before every step and stops at once."""
    pipe = model.pipe
    timesteps = pipe.scheduler.timesteps
    latents = hold_ends(model, latents, conditioning, timesteps[0])
    for index, timestep in enumerate(timesteps):
        if is_cancelled():
            raise TransitionCancelled()
        noise = predict_noise(model, latents, timestep, conditioning, settings)
        latents = pipe.scheduler.step(noise, timestep, latents).prev_sample
        following = timesteps[index + 1] if index + 1 < len(timesteps) else None
        latents = hold_ends(model, latents, conditioning, following)
        on_step(index + 1, len(timesteps))
    return latents


def predict_noise(
    model: MotionModel,
    latents: torch.Tensor,
    timestep: torch.Tensor,
    conditioning: FrameConditioning,
    settings: MotionSettings,
) -> torch.Tensor:
    """One guided noise prediction: SparseCtrl residuals (SD 1.5), then the per-frame UNet."""
    pipe = model.pipe
    model_input = torch.cat([latents] * 2) if settings.uses_guidance else latents
    model_input = pipe.scheduler.scale_model_input(model_input, timestep)
    residuals = {}
    if conditioning.keyframes is not None:
        control, control_mask = conditioning.keyframes
        down_residuals, mid_residual = pipe.controlnet(
            model_input,
            timestep,
            encoder_hidden_states=conditioning.text,
            controlnet_cond=control,
            conditioning_mask=control_mask,
            conditioning_scale=settings.keyframe_strength,
            guess_mode=False,
            return_dict=False,
        )
        residuals = {
            "down_block_additional_residuals": down_residuals,
            "mid_block_additional_residual": mid_residual,
        }
    noise = pipe.unet(
        model_input,
        timestep,
        encoder_hidden_states=(conditioning.text, conditioning.image_tokens),
        added_cond_kwargs=conditioning.added,
        **residuals,
    ).sample
    if not settings.uses_guidance:
        return noise
    unconditional, conditional = noise.chunk(2)
    return unconditional + settings.guidance * (conditional - unconditional)


def decode(model: MotionModel, latents: torch.Tensor) -> list[np.ndarray]:
    """Latents [1, 4, F, h, w] to RGB uint8 frames, a few frames at a time to bound memory."""
    vae = model.pipe.vae
    frames = latents[0].permute(1, 0, 2, 3) / vae.config.scaling_factor
    images = []
    for first in range(0, frames.shape[0], DECODE_CHUNK):
        decoded = vae.decode(frames[first : first + DECODE_CHUNK].to(vae.dtype)).sample
        pixels = ((decoded.float() / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
        images.extend(pixels.permute(0, 2, 3, 1).cpu().numpy())
    return [np.ascontiguousarray(image) for image in images]
