"""Identity cache footprint: disk per character, host memory while rendering, peak RSS.

Figures for SDXL are computed exactly, from the shipped SDXL UNet config
(``resources/pipeline_configs/sdxl``), the project's default settings (1024 px,
30 steps, the default identity-image count and rates) and the schedule a render
draws from the default base seed. The same formulas are then checked against a
measured run: the tiny SDXL renders a two-character story through the real
renderer into a temporary project cache, once with 16-bit and once with 8-bit
storage, and the files it writes must hold exactly the predicted bytes (entries,
data, largest step, and the whole file: the header's reserved room plus data).
Host memory while rendering is what the streaming reader holds per character
being read: two steps (the pinned staging pair on CUDA, mapped pages on the
CPU), so the figure is two largest steps per character. The 8-bit
reconstruction error is measured on the tiny run's real hidden states (8-bit
against the 16-bit cache of the same identity pass). Peak host RSS is the own
peak (``VmHWM``; ``ru_maxrss`` where there is no /proc) of two fresh processes
rendering 8 and 32 panels of the tiny two-character story, each building and then
streaming its caches from disk.

Usage: ``python benchmarks/cache_footprint.py`` (about 20 s on a 2-core CPU);
``benchmarks/story.py`` prints the same lines last.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel

from storyboard_app.engine.cache_format import read_header, tensor_name
from storyboard_app.engine.consistency_state import ConsistencySchedule, TokenSampler
from storyboard_app.engine.consistent_attention import consistent_layer_names
from storyboard_app.engine.identity_cache import FP8, SAFETENSORS_DTYPES
from storyboard_app.engine.identity_cache_file import (
    STAGED_STEPS,
    open_identity_cache,
    reserved_header_bytes,
)
from storyboard_app.project.bundled import resources_dir
from storyboard_app.project.settings import ProjectSettings

TEXT_TOKENS = 77
HALVES = 2  # classifier-free guidance: uncond and cond
CHARACTERS = 2


@dataclass(frozen=True)
class LayerShape:
    """Tokens and channels a replaced self-attention layer sees."""

    name: str
    tokens: int
    channels: int


@dataclass(frozen=True)
class CacheLayout:
    """One character's cache as the renderer writes it, entry by entry in file order."""

    entries: tuple[tuple[str, str, tuple[int, ...], int], ...]
    steps: dict[int, int]  # bytes per step

    @property
    def data_bytes(self) -> int:
        return sum(entry[3] for entry in self.entries)

    @property
    def max_step_bytes(self) -> int:
        return max(self.steps.values(), default=0)


def sdxl_unet_config() -> dict:
    """The shipped SDXL UNet config (the one ``from_single_file`` loads with)."""
    path = resources_dir() / "pipeline_configs" / "sdxl" / "unet" / "config.json"
    return {k: v for k, v in json.loads(path.read_text()).items() if not k.startswith("_")}


def conditioning(config: dict, batch: int, size: int, device: torch.device, dtype=None) -> dict:
    """Random prompt embeddings and SDXL's size conditioning for a UNet call."""
    pooled = config["projection_class_embeddings_input_dim"] - 6 * config["addition_time_embed_dim"]
    time_ids = torch.tensor([size, size, 0, 0, size, size], device=device, dtype=dtype)
    return {
        "encoder_hidden_states": torch.randn(
            batch, TEXT_TOKENS, config["cross_attention_dim"], device=device, dtype=dtype
        ),
        "added_cond_kwargs": {
            "text_embeds": torch.randn(batch, pooled, device=device, dtype=dtype),
            "time_ids": time_ids.expand(batch, -1),
        },
    }


def consistent_layer_shapes(
    config: dict, size: int, blocks: Sequence[str] = ("up_blocks",)
) -> list[LayerShape]:
    """Shapes of the layers consistent attention replaces, by a forward on the meta device
    (no memory, no compute), in the order the UNet calls them."""
    meta = torch.device("meta")
    with meta:
        unet = UNet2DConditionModel.from_config(config)
    shapes: dict[str, LayerShape] = {}

    def recorder(name: str) -> Callable[..., None]:
        def record(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
            hidden = args[0] if args else kwargs["hidden_states"]
            shapes[name] = LayerShape(name, hidden.shape[1], hidden.shape[2])

        return record

    names = consistent_layer_names(unet, blocks)
    for name in names:
        unet.get_submodule(name).register_forward_pre_hook(recorder(name), with_kwargs=True)
    latent = size // 8
    sample = torch.empty(2, config["in_channels"], latent, latent, device=meta)
    with torch.no_grad():
        unet(sample, torch.tensor(500, device=meta), **conditioning(config, 2, size, meta))
    return [shapes[name] for name in names]


def cache_layout(
    shapes: Sequence[LayerShape],
    schedule: ConsistencySchedule,
    sampler: TokenSampler,
    images: int,
    dtype: torch.dtype,
) -> CacheLayout:
    """Every entry a WRITE pass stores: each scheduled (step, layer) whose level samples
    any token, holding k tokens of each identity image for both guidance halves."""
    element = torch.empty(0, dtype=dtype).element_size()
    entries, steps = [], {}
    for step in range(schedule.steps):
        for shape in shapes:
            k = sampler.count(shape.tokens)
            if not schedule.is_consistent(step, shape.name) or k == 0:
                continue
            entry_shape = (HALVES, images * k, shape.channels)
            nbytes = math.prod(entry_shape) * element
            entries.append(
                (tensor_name(step, shape.name), SAFETENSORS_DTYPES[dtype], entry_shape, nbytes)
            )
            steps[step] = steps.get(step, 0) + nbytes
    return CacheLayout(tuple(entries), steps)


def official_low_vram_bytes(
    shapes: Sequence[LayerShape], steps: int, images: int, rates: tuple[float, float], size: int
) -> float:
    """Expected bytes of the official low-VRAM bank (``id_bank[character][step]``):
    every step and up-block ``attn1`` layer, a Bernoulli(rate) draw of each identity
    image's tokens, both halves, fp16, kept for all characters during the render."""
    low_res = (size // 32) ** 2
    per_step = sum(
        HALVES * images * (rates[0] if s.tokens <= low_res else rates[1]) * s.tokens * s.channels
        for s in shapes
    )
    return steps * per_step * 2


def sdxl_schedule(shapes: Sequence[LayerShape], settings: ProjectSettings) -> ConsistencySchedule:
    """The schedule a render at ``settings`` draws (from the base seed)."""
    return ConsistencySchedule.draw(settings.base_seed, settings.steps, [s.name for s in shapes])


def default_layout(dtype: torch.dtype) -> tuple[CacheLayout, list[LayerShape], ProjectSettings]:
    """One character's cache at the project's defaults on the real SDXL config."""
    settings = ProjectSettings()
    width, height = settings.render_size("sdxl")
    shapes = consistent_layer_shapes(sdxl_unet_config(), width)
    schedule = sdxl_schedule(shapes, settings)
    consistency = settings.consistency
    sampler = TokenSampler(
        consistency.sampling_rate,
        consistency.sampling_rate_high_res,
        height,
        width,
    )
    layout = cache_layout(shapes, schedule, sampler, consistency.identity_images, dtype)
    return layout, shapes, settings


SDXL_EXTRA = {  # what the renderer adds to the metadata, for a typical name and model
    "character": "Character",
    "summary": "1024x1024, 30 steps, euler, 2 identity images, fp16, model sd_xl_base_1.0",
}


@dataclass(frozen=True)
class TinyCheck:
    """What the measured tiny run gave, against the formula."""

    checked: int
    fp8_rms_error: float
    fp8_worst_error: float


def tiny_request(model: Path, cache_dir: Path, precision: str, panels: int, steps: int = 3):
    """The tiny two-character story at 64 px: what the measured runs render."""
    from storyboard_app.engine.render_request import CharacterIdentity, PanelJob, RenderRequest
    from storyboard_app.project.settings import ConsistencySettings

    mara = CharacterIdentity("Mara", "a woman", "", 1, ("a woman", "a woman smiling"))
    bob = CharacterIdentity("Bob", "a man", "", 2, ("a man", "a man waving"))
    return RenderRequest(
        model_source=str(model),
        width=64,
        height=64,
        steps=steps,
        guidance=5.0,
        scheduler="euler",
        consistency=ConsistencySettings(window_size=4, identity_images=2),
        schedule_seed=3,
        characters=(mara, bob),
        panels=tuple(
            PanelJob(i, i + 1, f"panel {i}", "", i, (("Mara",), ("Bob",), ("Mara", "Bob"))[i % 3])
            for i in range(panels)
        ),
        cache_dir=cache_dir,
        identity_cache_precision=precision,
    )


def check_tiny(model: Path, work: Path) -> TinyCheck:
    """Render the tiny story at 16 and 8 bits; every cache file must hold exactly
    the predicted entries, data bytes, largest step and file bytes."""
    from storyboard_app.engine.loading import load_text_to_image_pipeline
    from storyboard_app.engine.story_renderer import StoryRenderer

    renderer = StoryRenderer(load_text_to_image_pipeline(str(model), device="cpu"))
    config = dict(renderer.pipe.unet.config)
    files: dict[str, list[Path]] = {}
    checked = 0
    for precision, dtype in (("fp16", torch.float16), ("fp8", FP8)):
        request = tiny_request(model, work / precision, precision, panels=3)
        renderer.render(request, lambda event: None)
        shapes = consistent_layer_shapes(config, request.width, request.consistency.blocks)
        schedule = ConsistencySchedule.draw(
            request.schedule_seed, request.steps, [s.name for s in shapes]
        )
        sampler = TokenSampler(0.5, 0.5, request.height, request.width)
        layout = cache_layout(shapes, schedule, sampler, 2, dtype)
        files[precision] = sorted((work / precision).glob("*.safetensors"))
        for path in files[precision]:
            header = read_header(path)
            measured = [(e.name, e.dtype, e.shape, e.nbytes) for e in header.entries]
            extra = {k: header.metadata[k] for k in ("character", "summary")}
            room = reserved_header_bytes(header.key, schedule.consistent, extra, precision)
            predicted_size = room + layout.data_bytes
            if (
                measured != list(layout.entries)
                or header.data_bytes != layout.data_bytes
                or header.max_step_bytes != layout.max_step_bytes
                or path.stat().st_size != predicted_size
            ):
                raise RuntimeError(
                    f"{path.name}: measured {header.data_bytes} data bytes and "
                    f"{path.stat().st_size} in all, the formula says {layout.data_bytes} and "
                    f"{predicted_size}."
                )
            checked += 1
    rms, worst = fp8_error(files["fp16"], files["fp8"])
    return TinyCheck(checked, rms, worst)


def fp8_error(fp16_files: list[Path], fp8_files: list[Path]) -> tuple[float, float]:
    """Relative RMS error of the 8-bit caches against the 16-bit caches of the same
    identity passes, over all entries, and the worst entry's."""
    error = total = 0.0
    worst = 0.0
    for exact_path, small_path in zip(fp16_files, fp8_files, strict=True):
        exact, small = open_identity_cache(exact_path), open_identity_cache(small_path)
        for step, layer in exact.entries():
            reference = exact.get(step, layer).float()
            difference = small.get(step, layer).float() - reference
            error += float(difference.square().sum())
            total += float(reference.square().sum())
            worst = max(worst, float(difference.norm() / reference.norm()))
        exact.close()
        small.close()
    return math.sqrt(error / total), worst


RSS_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, sys.argv[4])
    from cache_footprint import tiny_request
    from storyboard_app.engine.loading import load_text_to_image_pipeline
    from storyboard_app.engine.story_renderer import StoryRenderer

    model, count, cache_dir = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    renderer = StoryRenderer(load_text_to_image_pipeline(str(model), device="cpu"))
    renderer.render(tiny_request(model, cache_dir, "fp16", count), lambda event: None)
    # VmHWM is this process's own peak; Linux carries ru_maxrss over from the parent
    # through fork and exec, so a large parent would hide the child's figure.
    status = Path("/proc/self/status")
    hwm = [line.split()[1] for line in status.read_text().splitlines()
           if line.startswith("VmHWM:")] if status.exists() else []
    peak = int(hwm[0]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_kib": peak}))
    """
)


def peak_rss_kib(model: Path, panels: int, cache_dir: Path) -> int:
    """``ru_maxrss`` of a fresh process rendering ``panels`` panels, caches from disk."""
    here = str(Path(__file__).resolve().parent)
    result = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, str(model), str(panels), str(cache_dir), here],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["peak_kib"]


def quiet_progress_bars() -> None:
    import diffusers.utils.logging
    import transformers.utils.logging

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()


def footprint_lines() -> list[str]:
    """The table rows and the three last lines of the story benchmark."""
    from storyboard_app.engine.tiny_models import save_tiny_pipeline

    quiet_progress_bars()

    fp16, shapes, settings = default_layout(torch.float16)
    fp8, _, _ = default_layout(FP8)
    gib = 2**30
    planned = sdxl_schedule(shapes, settings).consistent
    disk16 = reserved_header_bytes("0" * 64, planned, SDXL_EXTRA, "fp16") + fp16.data_bytes
    disk8 = reserved_header_bytes("0" * 64, planned, SDXL_EXTRA, "fp8") + fp8.data_bytes
    host = CHARACTERS * STAGED_STEPS * fp16.max_step_bytes
    consistency = settings.consistency
    rates = (consistency.sampling_rate, consistency.sampling_rate_high_res)
    low_vram = official_low_vram_bytes(
        shapes, settings.steps, consistency.identity_images, rates, settings.render_size("sdxl")[0]
    )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        model = save_tiny_pipeline(work / "tiny-sdxl", "sdxl")
        tiny = check_tiny(model, work / "check")
        peaks = {n: peak_rss_kib(model, n, work / f"rss{n}") for n in (8, 32)}
    label = (
        f"SDXL {settings.render_size('sdxl')[0]} px, {settings.steps} steps, "
        f"{consistency.identity_images} identity images, {len(shapes)} layers"
    )
    return [
        f"{label}: {len(fp16.entries)} entries, largest step {fp16.max_step_bytes / 2**20:.1f} "
        f"MiB (fp16)",
        f"official low-VRAM bank, same settings, per character (expected): {low_vram / gib:.2f} "
        f"GiB, held for every character all render; ours {fp16.data_bytes / gib:.2f} GiB on disk",
        f"tiny SDXL check: {tiny.checked} cache files hold exactly the predicted bytes "
        f"(fp16 and fp8); 8-bit reconstruction error {100 * tiny.fp8_rms_error:.2f}% RMS "
        f"(worst entry {100 * tiny.fp8_worst_error:.2f}%)",
        f"peak host RSS: {peaks[8] / 1024:.0f} MiB for 8 panels, {peaks[32] / 1024:.0f} MiB "
        "for 32 (tiny SDXL, 2 characters, caches streamed from disk)",
        f"identity cache disk per character, SDXL 1024 px defaults: {disk16 / gib:.1f} GiB "
        f"(8-bit: {disk8 / gib:.1f} GiB)",
        f"identity cache host memory while rendering, SDXL 1024 px, 2 characters: "
        f"{host / gib:.2f} GiB",
        f"peak host RSS ratio 32/8 panels: {peaks[32] / peaks[8]:.2f}",
    ]


def main() -> None:
    torch.set_num_threads(1)
    for line in footprint_lines():
        print(line)


if __name__ == "__main__":
    main()
