"""Train the toy model on toy-world pictures, on a CPU, within a time budget.

``python -m storyboard_app.engine.toyworld.train --out resources/models/toy --minutes 55``

Two phases: the VAE learns to reconstruct pictures (ten minutes: they are
flat colours), then a pool of pictures is encoded once and the UNet and text
encoder learn together to denoise those latents from random-subset captions
(epsilon prediction, min-SNR weighting, 10% empty captions for guidance), while
a second process goes on training the VAE's decoder alone (the encoder, so the
latents, stay fixed) and its sharper decoder replaces the first at the end. The
learning rate follows a cosine over the time left, so a run of any length ends
annealed, and the pipeline folder is saved every few minutes, so a run cut short
still leaves a usable model. Each saved folder has ``training.json`` with the
steps, losses and minutes spent.

On a shared machine one thread per process is much faster than two: with
other processes running, two threads spend most of their time waiting for each
other (a training step took 10 s with two threads and 0.6 s with one here).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler

from storyboard_app.engine.toyworld.captions import random_caption
from storyboard_app.engine.toyworld.model import (
    SCHEDULER_CONFIG,
    assemble,
    make_text_encoder,
    make_tokenizer,
    make_unet,
)
from storyboard_app.engine.toyworld.model import make_vae as new_vae
from storyboard_app.engine.toyworld.parse import parse
from storyboard_app.engine.toyworld.world import Picture, draw, random_picture


@dataclass
class Budget:
    """Minutes for each phase, and how often to save."""

    vae_minutes: float = 10.0
    total_minutes: float = 55.0
    save_minutes: float = 5.0
    pool: int = 20000
    batch: int = 32
    attention_levels: int = 2
    vae_from: Path | None = None
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return (time.monotonic() - self.started) / 60


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 HWC pictures to a float NCHW batch in [-1, 1], as diffusers VAEs expect."""
    array = np.stack(images).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(0, 3, 1, 2)


def to_pictures(batch: torch.Tensor) -> list[np.ndarray]:
    """The inverse of :func:`to_tensor`, clamped."""
    array = ((batch.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return list(array)


def train_vae(budget: Budget, rng: np.random.Generator, log: dict) -> AutoencoderKL:
    """Reconstruction with a tiny KL term, for ``budget.vae_minutes``."""
    vae = new_vae()
    optimiser = torch.optim.AdamW(vae.parameters(), lr=2e-3, weight_decay=0.0)
    start, steps = time.monotonic(), 0
    accuracy = 0.0
    while (time.monotonic() - start) / 60 < budget.vae_minutes and accuracy < 0.97:
        images = to_tensor([draw(random_picture(rng)) for _ in range(16)])
        posterior = vae.encode(images).latent_dist
        loss = F.mse_loss(vae.decode(posterior.sample()).sample, images)
        loss = loss + 1e-6 * posterior.kl().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        if steps % 60 == 0:
            accuracy = vae_parse_accuracy(vae, rng)
            print(f"vae step {steps}: loss {loss.item():.4f}, parses {accuracy:.2f}", flush=True)
    minutes = (time.monotonic() - start) / 60
    log["vae"] = {"steps": steps, "last_loss": loss.item(), "minutes": minutes}
    log["vae"]["parse_accuracy"] = vae_parse_accuracy(vae, rng)
    print(f"vae: {log['vae']}", flush=True)
    return vae.eval().requires_grad_(False)


@torch.no_grad()
def vae_parse_accuracy(vae: AutoencoderKL, rng: np.random.Generator, count: int = 64) -> float:
    """Share of pictures that still parse exactly after encoding and decoding."""
    pictures = [random_picture(rng) for _ in range(count)]
    latents = vae.encode(to_tensor([draw(p) for p in pictures])).latent_dist.mode()
    decoded = to_pictures(vae.decode(latents).sample)
    return sum(parse(d) == p for d, p in zip(decoded, pictures, strict=True)) / count


@torch.no_grad()
def encode_pool(
    vae: AutoencoderKL, budget: Budget, rng: np.random.Generator
) -> tuple[list[Picture], torch.Tensor, float]:
    """A pool of pictures and their unscaled latents, plus the scaling factor (1 / std)."""
    pictures = [random_picture(rng) for _ in range(budget.pool)]
    chunks = [
        vae.encode(to_tensor([draw(p) for p in pictures[i : i + 64]])).latent_dist.mode()
        for i in range(0, len(pictures), 64)
    ]
    latents = torch.cat(chunks)
    return pictures, latents, float(1.0 / latents.std())


def refine_decoder(folder: Path, out: Path, minutes: float, seed: int = 1) -> None:
    """Train the VAE's decoder alone (the encoder and so the latents stay fixed), then save.

    Runs in its own process beside the denoiser's training: the UNet learns the
    frozen encoder's latents while this makes their decoding sharp. The latents
    get a little noise, so the decoder also draws clean pictures from the slightly
    off latents a trained UNet produces.
    """
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    vae = AutoencoderKL.from_pretrained(str(folder))
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    decoder = [p for p in vae.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(decoder, lr=1e-3, weight_decay=0.0)
    start, steps = time.monotonic(), 0
    while (done := (time.monotonic() - start) / 60 / minutes) < 1:
        optimiser.param_groups[0]["lr"] = 1e-3 * 0.5 * (1 + math.cos(math.pi * done))
        images = to_tensor([draw(random_picture(rng)) for _ in range(16)])
        with torch.no_grad():
            latents = vae.encode(images).latent_dist.mode()
        latents = latents + 0.05 * latents.std() * torch.randn_like(latents)
        loss = F.mse_loss(vae.decode(latents).sample, images)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        if steps % 100 == 0:
            accuracy = vae_parse_accuracy(vae, rng)
            print(f"decoder {steps}: loss {loss.item():.4f}, parses {accuracy:.2f}", flush=True)
            vae.save_pretrained(str(out), safe_serialization=True)
    vae.save_pretrained(str(out), safe_serialization=True)


def min_snr_weights(scheduler: DDPMScheduler, timesteps: torch.Tensor) -> torch.Tensor:
    """Min-SNR-5 loss weights for epsilon prediction (Hang et al. 2023): faster to converge."""
    alphas = scheduler.alphas_cumprod[timesteps]
    snr = alphas / (1 - alphas)
    return torch.clamp(snr, max=5.0) / snr


def learning_rate(base: float, step: int, budget: Budget, start: float) -> float:
    """Warm up over 100 steps, then a cosine to zero over the time the run has left."""
    left = budget.total_minutes - start
    progress = min(max((budget.elapsed() - start) / max(left, 1e-6), 0.0), 1.0)
    return base * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress))


def train(out: Path, budget: Budget, rng: np.random.Generator) -> None:
    """Both phases; the folder at ``out`` is rewritten at every save."""
    log: dict = {"budget_minutes": budget.total_minutes, "threads": torch.get_num_threads()}
    log["attention_levels"] = budget.attention_levels
    vae = first_vae(budget, rng, log)
    pictures, latents, scale = encode_pool(vae, budget, rng)
    vae.register_to_config(scaling_factor=scale)
    log["pool"] = {"pictures": len(pictures), "scaling_factor": scale, "at": budget.elapsed()}
    print(f"pool encoded at {budget.elapsed():.1f} min, scaling factor {scale:.3f}", flush=True)
    refinement = None if budget.vae_from else start_decoder_refinement(vae, out, budget)
    tokenizer = make_tokenizer(out / "tokenizer")
    unet, text_encoder = make_unet(budget.attention_levels), make_text_encoder(tokenizer)
    pipe = assemble(vae, unet, text_encoder, tokenizer)
    noise_scheduler = DDPMScheduler(**{**SCHEDULER_CONFIG, "steps_offset": 0})
    params = [*unet.parameters(), *text_encoder.parameters()]
    optimiser = torch.optim.AdamW(params, lr=5e-4, weight_decay=1e-2)
    start, step, last_save, losses = budget.elapsed(), 0, budget.elapsed(), []
    while budget.elapsed() < budget.total_minutes:
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(5e-4, step, budget, start)
        loss = denoising_loss(pipe, noise_scheduler, pictures, latents * scale, rng, budget)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimiser.step()
        losses.append(loss.item())
        step += 1
        if step % 50 == 0:
            print(f"step {step} at {budget.elapsed():.1f} min: loss {np.mean(losses[-50:]):.4f}")
        if budget.elapsed() - last_save > budget.save_minutes:
            save(pipe, out, log, step, losses, budget)
            last_save = budget.elapsed()
    if refinement is not None:
        refiner, refined = refinement
        refiner.join()
        pipe.vae = AutoencoderKL.from_pretrained(str(refined))
        save(pipe, out, log, step, losses, budget)
        shutil.rmtree(refined)
    else:
        save(pipe, out, log, step, losses, budget)


def first_vae(budget: Budget, rng: np.random.Generator, log: dict) -> AutoencoderKL:
    """A VAE trained now, or the one at ``budget.vae_from`` (its decoder already refined).

    Reusing a VAE keeps the latents of an earlier run, so a new UNet design can be
    tried with the whole budget spent on the denoiser.
    """
    if budget.vae_from is None:
        return train_vae(budget, rng, log)
    vae = AutoencoderKL.from_pretrained(str(budget.vae_from))
    log["vae"] = {"from": str(budget.vae_from), "parse_accuracy": vae_parse_accuracy(vae, rng)}
    print(f"vae: {log['vae']}", flush=True)
    return vae.eval().requires_grad_(False)


def start_decoder_refinement(
    vae: AutoencoderKL, out: Path, budget: Budget
) -> tuple[multiprocessing.process.BaseProcess, Path]:
    """Refine the decoder in another process until the run's end; (process, its folder)."""
    start, refined = out / "vae", out / ".vae-refining"
    vae.save_pretrained(str(start), safe_serialization=True)
    minutes = budget.total_minutes - budget.elapsed() - 1.0
    process = multiprocessing.get_context("spawn").Process(
        target=refine_decoder, args=(start, refined, minutes)
    )
    process.start()
    return process, refined


def denoising_loss(
    pipe,
    scheduler: DDPMScheduler,
    pictures: list[Picture],
    latents: torch.Tensor,
    rng: np.random.Generator,
    budget: Budget,
) -> torch.Tensor:
    """Min-SNR-weighted epsilon loss on one batch drawn from the pool."""
    index = rng.integers(0, len(pictures), budget.batch)
    captions = [
        "" if rng.random() < 0.1 else random_caption(pictures[i], rng) for i in index.tolist()
    ]
    ids = pipe.tokenizer(
        captions, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids
    states = pipe.text_encoder(ids).last_hidden_state
    clean = latents[torch.from_numpy(index)]
    noise = torch.randn_like(clean)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(index),))
    noisy = scheduler.add_noise(clean, noise, timesteps)
    predicted = pipe.unet(noisy, timesteps, states).sample
    per_image = F.mse_loss(predicted, noise, reduction="none").mean(dim=(1, 2, 3))
    return (per_image * min_snr_weights(scheduler, timesteps)).mean()


def save(pipe, out: Path, log: dict, step: int, losses: list[float], budget: Budget) -> None:
    """The pipeline folder (safetensors) and ``training.json``."""
    pipe.save_pretrained(str(out), safe_serialization=True)
    log["denoiser"] = {
        "steps": step,
        "batch": budget.batch,
        "loss_last_100": float(np.mean(losses[-100:])) if losses else None,
        "minutes": budget.elapsed(),
    }
    (out / "training.json").write_text(json.dumps(log, indent=2), encoding="utf-8")
    print(f"saved {out} at step {step}, {budget.elapsed():.1f} min", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Parse the options, train, save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the pipeline folder to write")
    parser.add_argument("--minutes", type=float, default=55.0, help="the whole run's budget")
    parser.add_argument("--vae-minutes", type=float, default=10.0)
    parser.add_argument("--pool", type=int, default=20000, help="pictures encoded once")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--refine-decoder", type=Path, help="only refine this VAE folder's decoder")
    parser.add_argument(
        "--attention-levels", type=int, default=2, help="UNet levels with attention (1-3)"
    )
    parser.add_argument("--vae-from", type=Path, help="reuse this VAE folder instead of training")
    args = parser.parse_args(argv)
    if args.refine_decoder is not None:
        refine_decoder(args.refine_decoder, args.out, args.minutes)
        return
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    budget = Budget(
        vae_minutes=args.vae_minutes,
        total_minutes=args.minutes,
        pool=args.pool,
        attention_levels=args.attention_levels,
        vae_from=args.vae_from,
    )
    train(args.out, budget, np.random.default_rng(args.seed))


if __name__ == "__main__":
    main()
