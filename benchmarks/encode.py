"""Encoding benchmark of the local backend against a plain reference-style baseline.

Builds a checkpoint in the real jina-embeddings-v4 layout (``config.json``, ``model.safetensors``
with ``model.language_model.*`` / ``model.visual.*`` keys, the multi-vector projector, a PEFT
``adapters/`` directory with three task LoRAs) with random weights at a configurable size,
reusing the tiny test fixture's tokenizer and image processor files. It then encodes a few
hundred texts of mixed lengths twice in the same process:

- **univec**: ``univec.Encoder.local`` (LoRA merged once, inputs sorted and packed by a token
  budget, last hidden state only, only the single vectors requested).
- **baseline**: what the reference implementation does: fixed batches of 8 in input order
  padded to the longest, LoRA unmerged (forward hooks on every targeted linear), every layer's
  hidden state kept, the LM head's logits computed, single and multi vectors both computed.

Both run in float32 on the same weights with the same attention kernel; the script checks
that they give the same vectors, then prints texts/s, tokens/s and peak memory (growth of
the resident set size while encoding, sampled every 2 ms) with univec/baseline ratios, and
saves a bar plot to ``benchmarks/results/encode.png`` when matplotlib is installed.

    python benchmarks/encode.py                              # ~1-2 min on 2 CPU cores
    python benchmarks/encode.py --hidden 1024 --layers 12 --texts 500
    python benchmarks/encode.py --checkpoint /path/to/jina-embeddings-v4 --device cuda

The default vocabulary (8,192) keeps the LM head at about the share of the decoder's compute
it has in the real 3B model (151,936 x 2,048 against 36 layers), since the tiny tokenizer only
uses 589 ids.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

import univec
from univec.backends.local.checkpoint import open_checkpoint
from univec.backends.local.lora import TaskAdapters
from univec.backends.local.model import build_backbone, load_model

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny-jev4"
RESULTS = Path(__file__).parent / "results"
TASK = "retrieval.passage"
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "preprocessor_config.json",
    "chat_template.json",
    "video_preprocessor_config.json",
)
WORDS = [
    "retrieval",
    "embedding",
    "vector",
    "model",
    "query",
    "passage",
    "document",
    "image",
    "token",
    "layer",
    "attention",
    "the",
    "of",
    "and",
    "a",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "this",
    "that",
    "it",
    "are",
    "be",
    "or",
    "an",
    "was",
    "which",
    "late",
    "interaction",
    "multi",
    "matryoshka",
    "projection",
    "adapter",
    "language",
    "vision",
    "transformer",
    "index",
    "database",
    "search",
    "ranking",
    "similarity",
    "cosine",
    "dense",
    "sparse",
    "hybrid",
    "chunk",
    "page",
    "table",
    "figure",
]


# --------------------------------------------------------------------------- checkpoint
def build_checkpoint(
    target: Path, hidden: int, layers: int, vocab: int, rank: int, seed: int
) -> Path:
    """Write a random-weight checkpoint in the real layout to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (TINY / name).is_file():
            shutil.copy(TINY / name, target / name)
    config = json.loads((TINY / "config.json").read_text())
    heads = max(hidden // 64, 1)
    text = {
        "hidden_size": hidden,
        "intermediate_size": int(hidden * 2.6875) // 16 * 16,  # Qwen2.5-3B's 11008 / 2048 (x0.5)
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": max(heads // 4, 1),
        "vocab_size": vocab,
    }
    half = hidden // heads // 2  # M-RoPE sections split the rotary half: (t, h, w) = 1/4, 3/8, 3/8
    section = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    config.update(text)
    config["text_config"].update(text)
    for holder in (config, config["text_config"]):
        holder["rope_scaling"] = {**holder["rope_scaling"], "mrope_section": section}
    config["vocab_size"] = vocab
    config["vision_config"]["out_hidden_size"] = hidden
    config["matryoshka_dims"] = sorted({hidden // 4, hidden // 2, hidden})
    (target / "config.json").write_text(json.dumps(config, indent=1))

    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(seed)
    checkpoint = open_checkpoint(TINY)  # only for the builder's config plumbing
    checkpoint = type(checkpoint)(path=target, config=config, weight_files={})
    backbone = build_backbone(checkpoint, "sdpa")
    state = {}
    for name, param in backbone.named_parameters():
        if name.endswith("norm.weight") or name.endswith(
            ("norm1.weight", "norm2.weight", "ln_q.weight")
        ):
            tensor = torch.ones(param.shape)
        else:
            tensor = torch.randn(param.shape, generator=generator) * 0.02
        state[f"model.{name}"] = tensor.to(torch.bfloat16)
    state["multi_vector_projector.weight"] = torch.randn((128, hidden), generator=generator) * 0.05
    state["multi_vector_projector.bias"] = torch.zeros(128)
    save_file(state, target / "model.safetensors")

    adapters = target / "adapters"
    adapters.mkdir(exist_ok=True)
    adapter_config = json.loads((TINY / "adapters" / "adapter_config.json").read_text())
    adapter_config.update({"r": rank, "lora_alpha": 2 * rank})
    (adapters / "adapter_config.json").write_text(json.dumps(adapter_config, indent=1))
    lora = {}
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    for key, tensor in state.items():
        module = key.removesuffix(".weight")
        is_target = (
            key.startswith("model.language_model.layers.") and module.split(".")[-1] in targets
        )
        if not (is_target or module == "multi_vector_projector") or not key.endswith(".weight"):
            continue
        out_features, in_features = tensor.shape
        for task in ("retrieval", "text-matching", "code"):
            prefix = f"base_model.model.{module}"
            lora[f"{prefix}.lora_A.{task}.weight"] = (
                torch.randn((rank, in_features), generator=generator) * 0.02
            )
            lora[f"{prefix}.lora_B.{task}.weight"] = (
                torch.randn((out_features, rank), generator=generator) * 0.02
            )
    save_file(lora, adapters / "adapter_model.safetensors")
    return target


def make_texts(count: int, seed: int, max_words: int) -> list[str]:
    """Texts of mixed lengths: mostly short, a long tail (log-normal word counts)."""
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(mean=3.3, sigma=0.9, size=count), 3, max_words).astype(int)
    return [" ".join(rng.choice(WORDS, size=n)) for n in lengths]


# --------------------------------------------------------------------------- baseline
class Baseline:
    """The reference's way of encoding, on stock transformers (see the module docstring)."""

    def __init__(self, path: Path, device: torch.device, batch_size: int = 8) -> None:
        self.checkpoint = open_checkpoint(path)
        self.model = load_model(self.checkpoint, device=device, dtype=torch.float32)
        self.device, self.batch_size = device, batch_size
        from univec.backends.local.preprocessing import Preprocessor

        self.preprocessor = Preprocessor(self.checkpoint, max_length=32768)
        embed = self.model.backbone.language_model.embed_tokens.weight
        self.lm_head = torch.nn.Linear(embed.shape[1], embed.shape[0], bias=False, device=device)
        self.lm_head.weight = embed  # tied, as in Qwen2.5-VL
        # Unmerged LoRA: W x + s * B (A x) on every targeted linear, on every call. TaskAdapters
        # only reads the factors here; its activate() (the merge) is never called.
        adapters = TaskAdapters(self.checkpoint, self.model)
        self.task = "retrieval"
        for target in adapters.targets:
            target.module.register_forward_hook(self._hook(target))

    def _hook(self, target: Any):
        def add_lora(module, args, output):
            lora_a, lora_b = target.factors[self.task]
            return output + target.scaling * (args[0] @ lora_a.T) @ lora_b.T

        return add_lora

    @torch.inference_mode()
    def encode(self, texts: list[str], prefix: str) -> tuple[np.ndarray, list[np.ndarray]]:
        dense, multi = [], []
        for start in range(0, len(texts), self.batch_size):
            encoded = self.preprocessor.texts(texts[start : start + self.batch_size], prefix)
            width = max(len(item.input_ids) for item in encoded)
            ids = torch.zeros((len(encoded), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, item in enumerate(encoded):
                ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
                mask[row, : len(item.input_ids)] = 1
            output = self.model.backbone(
                input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False
            )
            hidden = output.hidden_states[-1]
            _logits = self.lm_head(hidden)
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)
            dense.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
            tokens = torch.nn.functional.normalize(
                self.model.multi_vector_projector(hidden), dim=-1
            )
            tokens = tokens * weights
            multi.extend(
                tokens[row, : len(item.input_ids)].numpy() for row, item in enumerate(encoded)
            )
        return np.concatenate(dense), multi


# --------------------------------------------------------------------------- measuring
class PeakRSS:
    """Peak growth of the resident set size while the block runs (sampled)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        try:
            with open("/proc/self/statm") as handle:
                return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:  # not Linux: fall back to the lifetime peak
            import resource

            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss() - self.start)
            time.sleep(self.interval)

    @staticmethod
    def release_free_memory() -> None:
        """Hand freed heap pages back to the OS so the next block's growth shows in the RSS."""
        gc.collect()
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass

    def __enter__(self) -> PeakRSS:
        self.release_free_memory()
        self.start = self.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss() - self.start)


@dataclass
class Result:
    name: str
    seconds: float
    texts: int
    tokens: int
    peak_bytes: int

    @property
    def texts_per_s(self) -> float:
        return self.texts / self.seconds

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds


def run(name: str, encode, texts: list[str], tokens: int, repeats: int) -> tuple[Result, Any]:
    encode(texts[:8])  # warm-up
    best, output = None, None
    for _ in range(repeats):
        with PeakRSS() as memory:
            start = time.perf_counter()
            output = encode(texts)
            seconds = time.perf_counter() - start
        result = Result(name, seconds, len(texts), tokens, memory.peak)
        best = result if best is None or result.seconds < best.seconds else best
    return best, output  # type: ignore[return-value]


def plot(results: list[Result], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    figure, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    names = [r.name for r in results]
    for axis, values, title in zip(
        axes,
        (
            [r.texts_per_s for r in results],
            [r.tokens_per_s for r in results],
            [r.peak_bytes / 2**20 for r in results],
        ),
        (
            "texts/s (higher is better)",
            "tokens/s (higher is better)",
            "peak memory MiB (lower is better)",
        ),
        strict=True,
    ):
        axis.bar(names, values, color=["#2a7", "#999"])
        axis.set_title(title, fontsize=10)
        for x, value in enumerate(values):
            axis.text(x, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=9)
    figure.suptitle("univec local encoder vs reference-style baseline (same process, float32)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="use this checkpoint instead of building one")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--texts", type=int, default=250)
    parser.add_argument("--max-words", type=int, default=150)
    parser.add_argument("--token-budget", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=str(RESULTS / "encode.png"))
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            path = Path(args.checkpoint)
        else:
            path = build_checkpoint(
                Path(tmp) / "ckpt", args.hidden, args.layers, args.vocab, args.rank, args.seed
            )
        texts = make_texts(args.texts, args.seed, args.max_words)
        encoder = univec.Encoder.local(
            str(path), device=args.device, dtype="float32", token_budget=args.token_budget
        )
        prefix = univec.resolve_task(TASK).prefix
        tokens = sum(len(e.input_ids) for e in encoder.backend.preprocessor.texts(texts, prefix))
        info = encoder.backend.checkpoint.text_config
        print(
            f"model: hidden {info['hidden_size']}, {info['num_hidden_layers']} layers, vocab "
            f"{info['vocab_size']}; {len(texts)} texts, {tokens:,} tokens "
            f"({tokens / len(texts):.0f} mean, {max(len(t.split()) for t in texts)} words max); "
            f"torch threads {torch.get_num_threads()}"
        )
        baseline = Baseline(path, device)
        base_result, (base_dense, _) = run(
            "baseline", partial(baseline.encode, prefix=prefix), texts, tokens, args.repeats
        )
        del baseline
        gc.collect()
        uni_result, uni_dense = run(
            "univec", lambda items: encoder.encode(items, TASK), texts, tokens, args.repeats
        )
    diff = float(np.abs(uni_dense - base_dense).max())
    print(f"max |univec - baseline| over single vectors: {diff:.2e}")
    print(f"{'':10}{'seconds':>10}{'texts/s':>10}{'tokens/s':>11}{'peak MiB':>10}")
    for r in (uni_result, base_result):
        print(
            f"{r.name:10}{r.seconds:10.2f}{r.texts_per_s:10.1f}{r.tokens_per_s:11.0f}"
            f"{r.peak_bytes / 2**20:10.1f}"
        )
    speedup = uni_result.texts_per_s / base_result.texts_per_s
    memory = base_result.peak_bytes / max(uni_result.peak_bytes, 1)
    print(
        f"ratio univec/baseline: throughput x{speedup:.2f} (texts/s and tokens/s), "
        f"peak memory x{1 / memory:.2f} (baseline needs x{memory:.1f})"
    )
    print(
        "PASS" if speedup > 1.0 and diff < 1e-3 else "FAIL", "(throughput ratio > 1, same vectors)"
    )
    if args.plot:
        plot([uni_result, base_result], Path(args.plot))


if __name__ == "__main__":
    main()
