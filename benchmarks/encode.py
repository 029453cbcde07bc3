"""Encoding benchmark of the local backend against the reference's inference procedure.

Builds a checkpoint in the real jina-embeddings-v4 layout (``config.json``, ``model.safetensors``
with ``model.language_model.*`` / ``model.visual.*`` keys, the multi-vector projector, a PEFT
``adapters/`` directory with three task LoRAs) with random weights at a configurable size,
reusing the tiny test fixture's tokenizer and image processor files. Then, in one process,
with the two sides interleaved (``--repeats`` alternating runs, medians reported):

- **univec**: ``univec.Encoder.local`` (LoRA merged once per task, inputs sorted and packed
  by a token budget, last hidden state only, only the outputs requested, images prepared in
  a thread pool while the forward passes run).
- **reference** (``--baseline faithful``, default): the reference implementation's inference
  procedure step by step: fixed batches of 8 in input order padded to the longest, LoRA
  unmerged in per-layer adapter modules (PEFT-style ``base(x) + B(A(dropout(x))) * s``),
  every layer's hidden state kept, the LM head's logits computed, single and multi vectors
  both computed on every call, bfloat16 autocast when run in bfloat16 (weights as shipped),
  and the vision tower's attention as transformers 4.52 (the version the reference's code is
  written for) runs it with SDPA: one attention over all patches of a batch of 8 images under
  a block-diagonal mask, instead of transformers 5's attention window by window
  (:func:`vision_attention_452`; same vectors, cost quadratic in the batch's patches).
- **plain** (``--baseline plain``): the same loop without the adapter modules, autocast, the
  4.52 vision attention and per-batch host copies (the earlier, kinder baseline).

Jobs (``--jobs``): ``texts`` (mixed-length texts, float32 and bfloat16), ``images`` (16
images, float32 and bfloat16), ``long`` (one 8,000-token document), ``switch``
(alternating-task queries against same-task queries, univec only, re-merge vs unmerged
overlay), ``stream`` (``iter_encode`` over a generator of short texts: peak RSS at
``--stream-texts`` vs 1% of it). Each prints items/s, tokens/s, peak RSS growth while
encoding, the ratios and PASS/FAIL against the targets of the speed issue; the plot goes to
``benchmarks/results/encode.png`` (git-ignored).

    python benchmarks/encode.py                      # every job, ~10 min on 2 busy cores
    python benchmarks/encode.py --jobs texts --dtypes float32 --repeats 3
    python benchmarks/encode.py --checkpoint /path/to/jina-embeddings-v4 --device cuda

The default vocabulary keeps the LM head's share of the compute per token what it is in the
real 3B model: 151,936 x 2,048 multiply-adds against 36 layers of 77 M, 11.2 % of the decoder
(:func:`default_vocab`: 1,820 ids for hidden 256 x 6 layers; at least the tiny tokenizer's
589). A larger vocabulary inflates the reference's waste, so the ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import univec
from univec.backends.local.checkpoint import open_checkpoint
from univec.backends.local.forward import _vision_span
from univec.backends.local.lora import TaskAdapters
from univec.backends.local.model import build_backbone, load_model
from univec.backends.local.preprocessing import EncodedInput, Preprocessor

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
#: The LM head's multiply-adds per token over the decoder's in jina-embeddings-v4 (3B):
#: 151,936 x 2,048 against 36 x (q 2048^2 + k, v 2 x 2048 x 256 + o 2048^2 + MLP 3 x 2048 x 11008).
LM_HEAD_SHARE = 151_936 * 2048 / (36 * (2 * 2048**2 + 2 * 2048 * 256 + 3 * 2048 * 11008))
TINY_VOCAB = 589  # ids the tiny fixture's tokenizer produces


def decoder_shape(hidden: int) -> tuple[int, int, int]:
    """``(heads, key-value heads, MLP width)`` of the bench decoder of width ``hidden``."""
    heads = max(hidden // 64, 1)
    # Qwen2.5-3B's MLP is 11008 / 2048 its width; the bench's is half that ratio.
    return heads, max(heads // 4, 1), int(hidden * 2.6875) // 16 * 16


def default_vocab(hidden: int, layers: int) -> int:
    """The vocabulary whose LM head costs :data:`LM_HEAD_SHARE` of this decoder per token."""
    heads, kv_heads, intermediate = decoder_shape(hidden)
    kv = kv_heads * (hidden // heads)
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * intermediate
    return max(TINY_VOCAB, round(LM_HEAD_SHARE * layers * per_layer / hidden))


def build_checkpoint(
    target: Path, hidden: int, layers: int, vocab: int, rank: int, seed: int
) -> Path:
    """Write a random-weight checkpoint in the real layout to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (TINY / name).is_file():
            shutil.copy(TINY / name, target / name)
    config = json.loads((TINY / "config.json").read_text())
    heads, kv_heads, intermediate = decoder_shape(hidden)
    text = {
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "vocab_size": vocab,
    }
    half = hidden // heads // 2  # M-RoPE sections split the rotary half: (t, h, w) = 1/4, 3/8, 3/8
    section = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    config.update(text)
    config["text_config"].update(text)
    for holder in (config, config["text_config"]):
        holder["rope_scaling"] = {**holder["rope_scaling"], "mrope_section": section}
    config["vocab_size"] = vocab
    vision = config["vision_config"]
    vision.update(  # scaled with the decoder (the real towers: 1280 vs 2048 hidden)
        hidden_size=max(hidden // 2, 32),
        num_heads=max(hidden // 128, 2),
        intermediate_size=max(hidden, 64),
        out_hidden_size=hidden,
    )
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


def make_images(count: int, seed: int) -> list[univec.Image]:
    """PNG images of mixed sizes (100k to 600k pixels: 128 to 768 image tokens)."""
    import io

    from PIL import Image as PILImage

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        width, height = (int(v) for v in rng.integers(300, 900, size=2))
        pixels = rng.integers(0, 255, size=(height // 8, width // 8, 3), dtype=np.uint8)
        pil = PILImage.fromarray(pixels).resize((width, height))  # smooth-ish content
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG")
        images.append(univec.Image(buffer.getvalue()))
    return images


def make_long_text(preprocessor: Preprocessor, tokens: int, seed: int) -> str:
    """One document of about ``tokens`` tokens (with the task prefix)."""
    rng = np.random.default_rng(seed)
    words = list(rng.choice(WORDS, size=tokens))
    text = " ".join(words)
    while len(preprocessor.texts([text], "Passage: ")[0].input_ids) > tokens:
        words = words[: int(len(words) * 0.97)]
        text = " ".join(words)
    return text


# --------------------------------------------------------------------------- reference
class LoraLinear(torch.nn.Module):
    """A linear layer with its task adapters unmerged, as the reference (PEFT-style) runs it."""

    def __init__(self, base: torch.nn.Linear, factors: dict, scaling: float, owner: Any) -> None:
        super().__init__()
        self.base_layer, self.scaling, self.owner = base, scaling, owner
        self.dropout = torch.nn.Identity()  # lora_dropout at inference
        self.lora_A = torch.nn.ModuleDict()
        self.lora_B = torch.nn.ModuleDict()
        for task, (lora_a, lora_b) in factors.items():
            down = torch.nn.Linear(lora_a.shape[1], lora_a.shape[0], bias=False)
            up = torch.nn.Linear(lora_b.shape[1], lora_b.shape[0], bias=False)
            down.weight.data = lora_a.to(base.weight.device, base.weight.dtype)
            up.weight.data = lora_b.to(base.weight.device, base.weight.dtype)
            self.lora_A[task], self.lora_B[task] = down, up
        self.weight = base.weight  # transformers reads .weight.dtype in places

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.base_layer(x)
        task = self.owner.task
        lora_a, lora_b = self.lora_A[task], self.lora_B[task]
        x = x.to(lora_a.weight.dtype)
        return result + lora_b(lora_a(self.dropout(x))) * self.scaling


def vision_attention_452(
    self: Any,
    hidden_states: torch.Tensor,
    cu_seqlens: torch.Tensor,
    position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """The vision tower's attention as the reference runs it (transformers 4.52).

    The reference's code is written for transformers 4.52, whose ``Qwen2_5_VLVisionSdpaAttention``
    attends over *all* patches of the batch at once: it builds a ``[1, patches, patches]``
    boolean mask that is true inside each window (or image, in the full-attention blocks), set
    block by block in a Python loop over ``cu_seqlens``, and runs one SDPA call with it. The
    result equals the per-window attention of transformers 5 (which splits the sequence at
    ``cu_seqlens``), at a cost quadratic in the batch's patches instead of a window's.
    """
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    seq_length = hidden_states.shape[0]
    q, k, v = (
        self.qkv(hidden_states).reshape(seq_length, 3, self.num_heads, -1).permute(1, 0, 2, 3)
    ).unbind(0)
    assert position_embeddings is not None
    cos, sin = position_embeddings
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
    mask = torch.zeros([1, seq_length, seq_length], device=q.device, dtype=torch.bool)
    for i in range(1, len(cu_seqlens)):
        mask[..., cu_seqlens[i - 1] : cu_seqlens[i], cu_seqlens[i - 1] : cu_seqlens[i]] = True
    q, k, v = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, mask, dropout_p=0.0)
    return self.proj(out.squeeze(0).transpose(0, 1).reshape(seq_length, -1))


class Reference:
    """The reference's way of encoding, on stock transformers (see the module docstring).

    Args:
        path: Checkpoint directory.
        device: Torch device.
        dtype: ``float32`` (autocast off) or ``bfloat16`` (weights in bfloat16, autocast on).
        faithful: Adapter modules, autocast and per-batch copies as the reference; ``False``
            is the plain loop (forward hooks for the LoRA, no autocast).
    """

    def __init__(
        self, path: Path, device: torch.device, dtype: torch.dtype, *, faithful: bool = True
    ) -> None:
        self.checkpoint = open_checkpoint(path)
        # transformers' own modules throughout (univec's vision fast paths off).
        self.model = load_model(self.checkpoint, device=device, dtype=dtype, fast_paths=False)
        self.device, self.dtype, self.faithful, self.batch_size = device, dtype, faithful, 8
        self.preprocessor = Preprocessor(self.checkpoint, max_length=32768)
        embed = self.model.backbone.language_model.embed_tokens.weight
        self.lm_head = torch.nn.Linear(embed.shape[1], embed.shape[0], bias=False, device=device)
        self.lm_head.weight = embed  # tied, as in Qwen2.5-VL
        if faithful:
            # The reference runs on transformers 4.52, whose SDPA vision attention is not
            # transformers 5's per-window split (see ``vision_attention_452``).
            for block in getattr(self.model.backbone.visual, "blocks", []):
                block.attn.forward = types.MethodType(vision_attention_452, block.attn)
        # TaskAdapters only reads the factors here; its activate() (the merge) is never called.
        adapters = TaskAdapters(self.checkpoint, self.model)
        self.task = "retrieval"
        modules = dict(self.model.named_modules())
        for target in adapters.targets:
            if faithful:
                name = next(n for n, m in modules.items() if m is target.module)
                parent_name, _, child = name.rpartition(".")
                parent = modules[parent_name] if parent_name else self.model
                wrapped = LoraLinear(target.module, target.factors, target.scaling, self)
                setattr(parent, child, wrapped)
            else:
                target.module.register_forward_hook(self._hook(target))

    def _hook(self, target: Any) -> Callable[..., torch.Tensor]:
        def add_lora(module: Any, args: Any, output: torch.Tensor) -> torch.Tensor:
            lora_a, lora_b = target.factors[self.task]
            return output + target.scaling * (args[0] @ lora_a.T) @ lora_b.T

        return add_lora

    def _autocast(self) -> Any:
        enabled = self.faithful and self.dtype == torch.bfloat16
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    @torch.inference_mode()
    def encode(self, items: list[Any], prefix: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """Single and multi vectors of texts or images (all of one kind), input order."""
        dense, multi = [], []
        pre = self.preprocessor
        for start in range(0, len(items), self.batch_size):
            chunk = items[start : start + self.batch_size]
            if isinstance(chunk[0], str):
                encoded = pre.texts(chunk, prefix)
            else:
                encoded = [pre.image(image) for image in chunk]
            width = max(len(item.input_ids) for item in encoded)
            ids = torch.full((len(encoded), width), pre.pad_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, item in enumerate(encoded):
                ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
                mask[row, : len(item.input_ids)] = 1
            kwargs = _image_kwargs(encoded, ids, pre, self.device)
            ids, mask = ids.to(self.device), mask.to(self.device)
            with self._autocast():
                self.model.backbone.rope_deltas = None
                output = self.model.backbone(
                    input_ids=ids,
                    attention_mask=mask,
                    output_hidden_states=True,
                    use_cache=False,
                    **kwargs,
                )
                hidden = output.hidden_states[-1]
                _logits = self.lm_head(hidden)
                weights = mask
                if kwargs:
                    weights = mask * _vision_span(ids, pre.vision_start_id, pre.vision_end_id)
                weights = weights.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * weights).sum(1) / weights.sum(1)
                single = torch.nn.functional.normalize(pooled.float(), dim=-1)
                tokens = torch.nn.functional.normalize(
                    self.model.multi_vector_projector(hidden).float(), dim=-1
                ) * mask.unsqueeze(-1)
            dense.append(single.cpu().numpy())
            multi.extend(
                tokens[row, : len(item.input_ids)].cpu().numpy() for row, item in enumerate(encoded)
            )
        return np.concatenate(dense), multi


def _image_kwargs(
    encoded: list[EncodedInput], ids: torch.Tensor, pre: Preprocessor, device: torch.device
) -> dict[str, torch.Tensor]:
    images = [item for item in encoded if item.is_image]
    if not images:
        return {}
    return {
        "pixel_values": torch.cat([item.pixel_values for item in images]).to(device),  # type: ignore[misc]
        "image_grid_thw": torch.cat([item.image_grid_thw for item in images]).to(device),  # type: ignore[misc]
        "mm_token_type_ids": (ids == pre.image_token_id).int().to(device),
    }


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
class Side:
    """Repeated measurements of one side of a comparison."""

    seconds: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    output: Any = None

    def measure(self, encode: Callable[[], Any], sync: Callable[[], None]) -> None:
        with PeakRSS() as memory:
            start = time.perf_counter()
            self.output = encode()
            sync()
            self.seconds.append(time.perf_counter() - start)
        self.peaks.append(memory.peak)

    @property
    def time(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> int:
        return int(statistics.median(self.peaks))


@dataclass
class Row:
    """One comparison: univec against the reference on a job."""

    job: str
    unit: str
    amount: int  # items
    tokens: int
    reference: Side
    univec: Side
    diff: float
    targets: list[tuple[str, bool]]

    @property
    def speedup(self) -> float:
        return self.reference.time / self.univec.time

    @property
    def memory(self) -> float:
        return self.univec.peak / max(self.reference.peak, 1)


def interleaved(
    repeats: int,
    reference: Callable[[], Any],
    ours: Callable[[], Any],
    sync: Callable[[], None],
) -> tuple[Side, Side]:
    """Both sides ``repeats`` times, alternating which goes first."""
    ref, uni = Side(), Side()
    for repeat in range(repeats):
        order = [(ref, reference), (uni, ours)]
        for side, encode in order if repeat % 2 == 0 else order[::-1]:
            side.measure(encode, sync)
    return ref, uni


def max_diff(ours: Any, reference: np.ndarray) -> float:
    return float(np.abs(np.asarray(ours, np.float32) - reference).max())


# --------------------------------------------------------------------------- jobs
#: (job, dtype) -> (minimum speedup, most memory ratio) from the speed issue; None: no target.
TARGETS: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("texts", "float32"): (6.5, 0.3),
    ("texts", "bfloat16"): (4.3, None),
    ("images", "float32"): (10.0, None),
    ("images", "bfloat16"): (None, None),
    ("long", "float32"): (1.35, 0.3),
    ("long", "bfloat16"): (None, None),
}


def compare(
    job: str,
    dtype: str,
    path: Path,
    args: argparse.Namespace,
    items: list[Any],
    unit: str,
) -> Row:
    device = torch.device(args.device)
    torch_dtype = getattr(torch, dtype)
    encoder = univec.Encoder.local(
        str(path), device=args.device, dtype=dtype, token_budget=args.token_budget
    )
    reference = Reference(path, device, torch_dtype, faithful=args.baseline == "faithful")
    prefix = univec.resolve_task(TASK).prefix
    warm = items[:2]
    reference.encode(warm, prefix)
    encoder.encode(warm, TASK)
    ref, uni = interleaved(
        args.repeats,
        lambda: reference.encode(items, prefix)[0],
        lambda: encoder.encode(items, TASK),
        _sync(device),
    )
    tokens = encoder.usage.total_tokens // (args.repeats + 1)
    tolerance = 1e-5 if dtype == "float32" else 5e-2
    diff = max_diff(uni.output, ref.output)
    speed, memory = TARGETS[(job, dtype)]
    row = Row(f"{job} {dtype}", unit, len(items), tokens, ref, uni, diff, [])
    row.targets.append((f"vectors equal to {tolerance:g}", diff <= tolerance))
    if speed is not None:
        row.targets.append((f"speed >= {speed}x", row.speedup >= speed))
    if memory is not None:
        row.targets.append((f"peak RSS <= {memory}x", row.memory <= memory))
    encoder.close()
    return row


def _sync(device: torch.device) -> Callable[[], None]:
    if device.type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def task_switching(path: Path, args: argparse.Namespace) -> list[str]:
    """Alternating-task queries vs same-task queries (one query per call), both strategies."""
    queries = make_texts(args.queries, args.seed + 1, 12)
    tasks = ["retrieval.query", "code.query", "text-matching"]
    lines, ratios = [], {}
    for strategy, switch_tokens in (("overlay", None), ("re-merge", 0)):
        encoder = univec.Encoder.local(str(path), device=args.device, dtype="float32")
        if switch_tokens is not None:
            encoder.backend.switch_tokens = switch_tokens  # every call merges its task
        encoder.encode(queries[:2], tasks[0])

        def same(encoder: univec.Encoder = encoder) -> None:
            for query in queries:
                encoder.encode([query], tasks[0])

        def alternating(encoder: univec.Encoder = encoder) -> None:
            for number, query in enumerate(queries):
                encoder.encode([query], tasks[number % len(tasks)])

        same_side, alt_side = interleaved(
            args.repeats, same, alternating, _sync(encoder.backend.device)
        )
        ratios[strategy] = alt_side.time / same_side.time
        lines.append(
            f"task switching ({strategy}): same task {len(queries) / same_side.time:,.1f} "
            f"queries/s, alternating {len(queries) / alt_side.time:,.1f} queries/s, "
            f"alternating/same time x{ratios[strategy]:.2f}"
        )
        encoder.close()
    passed = ratios["overlay"] <= 1.5
    lines.append(
        f"{'PASS' if passed else 'FAIL'} task switching: alternating within 1.5x of same-task"
    )
    return lines


def streaming(args: argparse.Namespace) -> list[str]:
    """``iter_encode`` over a generator: peak RSS at N texts vs at N / 100 (tiny checkpoint).

    Reports the process's peak RSS (the issue's measure) and its growth while encoding.
    """
    encoder = univec.Encoder.local(str(TINY), device=args.device, dtype="float32")
    encoder.encode(["warm up"], TASK)
    totals, growths = {}, {}
    for count in (max(args.stream_texts // 100, 1), args.stream_texts):
        generator = (f"short text number {i} about {WORDS[i % len(WORDS)]}" for i in range(count))
        with PeakRSS() as memory:
            start = time.perf_counter()
            seen = sum(1 for _ in encoder.iter_encode(generator, TASK))
            seconds = time.perf_counter() - start
        assert seen == count
        totals[count], growths[count] = memory.start + memory.peak, memory.peak
        print(
            f"  stream {count:,} texts: {count / seconds:,.0f} texts/s, peak RSS "
            f"{totals[count] / 2**20:.1f} MiB (+{memory.peak / 2**20:.1f} MiB while encoding)"
        )
    small, big = sorted(totals)
    ratio = totals[big] / totals[small]
    encoder.close()
    return [
        f"streaming: peak RSS {totals[big] / 2**20:.1f} MiB at {big:,} texts vs "
        f"{totals[small] / 2**20:.1f} MiB at {small:,} (x{ratio:.2f}); growth while encoding "
        f"+{growths[big] / 2**20:.1f} vs +{growths[small] / 2**20:.1f} MiB",
        f"{'PASS' if ratio <= 1.2 else 'FAIL'} streaming: peak RSS within 1.2x",
    ]


# --------------------------------------------------------------------------- report
def report(row: Row) -> list[str]:
    rate = lambda side: row.amount / side.time  # noqa: E731
    lines = [
        f"{row.job}: {row.amount} {row.unit}, {row.tokens:,} tokens; max |univec - reference| "
        f"{row.diff:.1e}",
    ]
    for name, side in (("univec", row.univec), ("reference", row.reference)):
        runs = ", ".join(f"{row.amount / s:.2f}" for s in side.seconds)
        lines.append(
            f"  {name:10} {rate(side):9.2f} {row.unit}/s {row.tokens / side.time:10,.0f} tokens/s "
            f"peak RSS +{side.peak / 2**20:7.1f} MiB   (runs: {runs})"
        )
    lines.append(f"  ratio: speed x{row.speedup:.2f}, peak RSS x{row.memory:.2f}")
    lines += [f"  {'PASS' if ok else 'FAIL'} {what}" for what, ok in row.targets]
    return lines


def plot(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    figure, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    names = [row.job for row in rows]
    for axis, values, title in (
        (axes[0], [row.speedup for row in rows], "speed vs reference (x, higher is better)"),
        (axes[1], [row.memory for row in rows], "peak RSS vs reference (x, lower is better)"),
    ):
        axis.barh(names, values, color="#2a7")
        axis.axvline(1.0, color="#999", linewidth=1)
        axis.set_title(title, fontsize=10)
        for y, value in enumerate(values):
            axis.text(value, y, f" {value:.2f}", va="center", fontsize=9)
    figure.suptitle("univec local encoder vs the reference procedure (same process)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", help="use this checkpoint instead of building one")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument(
        "--vocab", type=int, default=None, help="default: the real LM head share (see above)"
    )
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--texts", type=int, default=96)
    parser.add_argument("--max-words", type=int, default=150)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--long-tokens", type=int, default=8000)
    parser.add_argument("--queries", type=int, default=60, help="queries of the switch job")
    parser.add_argument("--stream-texts", type=int, default=200_000)
    parser.add_argument("--jobs", default="texts,images,long,switch,stream")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--baseline", choices=("faithful", "plain"), default="faithful")
    parser.add_argument("--token-budget", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs per side")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's own)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=str(RESULTS / "encode.png"), help="path or 'none'")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    jobs = [job.strip() for job in args.jobs.split(",") if job.strip()]
    dtypes = [dtype.strip() for dtype in args.dtypes.split(",") if dtype.strip()]
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}, cpu count "
        f"{os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, baseline {args.baseline}"
    )
    rows: list[Row] = []
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.checkpoint:
            path = Path(args.checkpoint)
        else:
            path = build_checkpoint(
                Path(tmp) / "ckpt",
                args.hidden,
                args.layers,
                args.vocab or default_vocab(args.hidden, args.layers),
                args.rank,
                args.seed,
            )
        info = open_checkpoint(path).text_config
        print(
            f"model: hidden {info['hidden_size']}, {info['num_hidden_layers']} layers, vocab "
            f"{info['vocab_size']}"
        )
        preprocessor = Preprocessor(open_checkpoint(path), max_length=32768)
        inputs = {
            "texts": (lambda: make_texts(args.texts, args.seed, args.max_words), "texts"),
            "images": (lambda: make_images(args.images, args.seed), "images"),
            "long": (lambda: [make_long_text(preprocessor, args.long_tokens, args.seed)], "docs"),
        }
        for job in jobs:
            if job in inputs:
                make, unit = inputs[job]
                items = make()
                for dtype in dtypes:
                    row = compare(job, dtype, path, args, items, unit)
                    rows.append(row)
                    for line in report(row):
                        print(line, flush=True)
            elif job == "switch":
                for line in task_switching(path, args):
                    print(line, flush=True)
                    lines.append(line)
            elif job == "stream":
                for line in streaming(args):
                    print(line, flush=True)
                    lines.append(line)
            else:
                parser.error(f"unknown job {job!r}")
    verdicts = [ok for row in rows for _, ok in row.targets]
    verdicts += [line.startswith("PASS") for line in lines if line.startswith(("PASS", "FAIL"))]
    print(f"summary: {sum(verdicts)}/{len(verdicts)} targets PASS")
    if args.plot != "none" and rows:
        plot(rows, Path(args.plot))


if __name__ == "__main__":
    main()
