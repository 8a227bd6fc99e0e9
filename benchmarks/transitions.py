"""Transitions: flow-morph speed on the CPU and generated-transition time on a GPU.

Flow morph: two 1024x576 panels (textured ground, three textured shapes; the
second panel pans the camera and moves the shapes) are morphed into a
16-frame transition. Reported: the optical flow estimated once per pair,
the time per in-between frame (and the frames per second that gives), and
the whole 16-frame transition; a crossfade for scale.

Generated transition (``--device cuda``): AnimateDiff with SparseCtrl RGB
keyframes and per-frame IP-Adapter embeddings, every part built at the size
of the published models (SD 1.5 UNet, VAE and text encoder from the shipped
configs; motion adapter v1-5-3 and SparseCtrl RGB shapes; CLIP ViT-H/14
image encoder) with random weights, which cost the same time as trained
ones. Reported: seconds per 16-frame transition at 512x512, 25 steps, with
guidance, in fp16. ``--tiny`` runs the same path with the tiny test models
(to check the benchmark itself on a CPU).

Usage: ``python benchmarks/transitions.py [--device cuda] [--repeats N] [--threads N]``
(about 20 s on a 2-core CPU; the GPU part adds about a minute for building
the models on the first run).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from storyboard_app.engine.transitions.classic import FlowMorph, crossfade_frames

PANEL_SIZE = (1024, 576)
TRANSITION_FRAMES = 16
RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "pipeline_configs" / "sd15"


def textured(shape: tuple[int, int], rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    """Multi-scale noise: structure at several sizes, like painted ground or foliage."""
    height, width = shape
    image = np.zeros((height, width, 3), np.float32)
    for cell in (64, 16, 4):
        coarse = rng.random((max(2, height // cell), max(2, width // cell), 3), dtype=np.float32)
        image += cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    image = (image - image.min()) / (image.max() - image.min())
    return (low + image * (high - low)).astype(np.uint8)


def panels(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two panels: the camera pans 24 px and three shapes move by 30 to 60 px."""
    rng = np.random.default_rng(seed)
    width, height = PANEL_SIZE
    ground = textured((height, width + 64), rng, 30, 160)
    shapes = [
        (textured((120, 140), rng, 120, 250), (200 + 250 * i, 180 + 60 * i)) for i in range(3)
    ]

    def draw(pan: int, move: float) -> np.ndarray:
        image = ground[:, pan : pan + width].copy()
        for index, (texture, (x, y)) in enumerate(shapes):
            left = int(x + move * (index + 1)) - pan
            image[y : y + texture.shape[0], left : left + texture.shape[1]] = texture
        return np.ascontiguousarray(image[..., ::-1])

    return draw(0, 0.0), draw(24, 20.0)


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def morph_table(repeats: int) -> list[tuple[str, str]]:
    start, end = panels()
    flow = median_seconds(lambda: FlowMorph(start, end), repeats)
    morph = FlowMorph(start, end)
    times = [(i + 1) / (TRANSITION_FRAMES + 1) for i in range(TRANSITION_FRAMES)]
    all_frames = median_seconds(lambda: [morph.frame(t) for t in times], repeats)
    per_frame = all_frames / TRANSITION_FRAMES
    fade = median_seconds(lambda: crossfade_frames(start, end, TRANSITION_FRAMES), repeats)
    width, height = PANEL_SIZE
    return [
        (f"flow estimation ({width}x{height}, once per pair)", f"{flow * 1e3:.0f} ms"),
        ("morph, per in-between frame", f"{per_frame * 1e3:.1f} ms"),
        ("morph, frames per second", f"{1 / per_frame:.1f} fps"),
        (f"morph, whole {TRANSITION_FRAMES}-frame transition", f"{(flow + all_frames):.2f} s"),
        ("crossfade, frames per second", f"{TRANSITION_FRAMES / fade:.0f} fps"),
    ]


def full_size_motion_model(device: str, dtype: torch.dtype) -> object:
    """Every part of the generated-transition model at the published sizes, random weights."""
    from diffusers import (
        AutoencoderKL,
        MotionAdapter,
        PNDMScheduler,
        SparseControlNetModel,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTokenizer,
        CLIPVisionConfig,
        CLIPVisionModelWithProjection,
    )

    from storyboard_app.engine.motion.encoder import ClipImageEncoder, ClipPreprocessing
    from storyboard_app.engine.motion.predictor import PredictorConfig, SemanticMotionPredictor
    from storyboard_app.engine.transitions.motion_model import MotionSources, assemble_motion_model
    from storyboard_app.engine.transitions.tiny_motion import random_ip_adapter_state_dict

    with torch.device(device):
        unet = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(RESOURCES / "unet")
        )
        base = StableDiffusionPipeline(
            vae=AutoencoderKL.from_config(AutoencoderKL.load_config(RESOURCES / "vae")),
            text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(RESOURCES / "text_encoder")),
            tokenizer=CLIPTokenizer.from_pretrained(RESOURCES / "tokenizer"),
            unet=unet,
            scheduler=PNDMScheduler.from_pretrained(RESOURCES / "scheduler"),
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
        )
        adapter = MotionAdapter(use_motion_mid_block=False)
        control = SparseControlNetModel(
            conditioning_channels=4, use_simplified_condition_embedding=True
        )
        vision = CLIPVisionModelWithProjection(
            CLIPVisionConfig(
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=16,
                patch_size=14,
                image_size=224,
                projection_dim=1024,
                hidden_act="gelu",
            )
        )
        encoder = ClipImageEncoder(vision, ClipPreprocessing(size=224), source="random ViT-H/14")
        predictor = SemanticMotionPredictor(PredictorConfig(embed_dim=1024))
        ip_adapter = random_ip_adapter_state_dict(unet, embed_dim=1024)
        model = assemble_motion_model(
            base, adapter, control, ip_adapter, encoder, predictor, MotionSources()
        )
    return model.to(device, dtype)


def generated_table(
    device: str, tiny: bool, size: int, steps: int, repeats: int
) -> list[tuple[str, str]]:
    from storyboard_app.engine.transitions.generated import MotionSettings, generate_motion_frames
    from storyboard_app.engine.transitions.tiny_motion import build_tiny_motion_model

    dtype = torch.float16 if torch.device(device).type == "cuda" else torch.float32
    built = time.perf_counter()
    model = (
        build_tiny_motion_model().to(device, dtype)
        if tiny
        else full_size_motion_model(device, dtype)
    )
    built = time.perf_counter() - built
    rng = np.random.default_rng(0)
    start, end = (rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(2))
    settings = MotionSettings(
        prompt="a lighthouse keeper climbs the stairs",
        frames=TRANSITION_FRAMES,
        width=size,
        height=size,
        steps=steps,
    )

    def run() -> None:
        generate_motion_frames(model, start, end, settings)
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    seconds = median_seconds(run, repeats)
    what = "tiny test models" if tiny else "published sizes, random weights"
    return [
        (f"model build ({what})", f"{built:.1f} s"),
        (
            f"generated {TRANSITION_FRAMES}-frame transition, {size}x{size}, {steps} steps, "
            f"guidance, {str(dtype).removeprefix('torch.')}",
            f"{seconds:.2f} s",
        ),
        ("per denoising step", f"{seconds / steps:.3f} s"),
    ]


def print_table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(title)
    print("-" * (width + 14))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>12}")
    print()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to time generated ones")
    parser.add_argument("--tiny", action="store_true", help="time generation with tiny models")
    parser.add_argument("--size", type=int, default=512, help="generated frame size (square)")
    parser.add_argument("--steps", type=int, default=25, help="generated denoising steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads (default 1: a shared machine)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}, {args.threads} CPU thread(s)\n")
    print_table(f"Flow morph on the CPU (median of {args.repeats})", morph_table(args.repeats))
    if args.device != "cpu" or args.tiny:
        name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
        title = f"Generated transition on {name} (median of {args.repeats})"
        print_table(
            title, generated_table(args.device, args.tiny, args.size, args.steps, args.repeats)
        )


if __name__ == "__main__":
    main()
