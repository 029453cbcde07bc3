"""Pick the device and dtype of the local backend."""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Any

import torch

from univec.errors import ConfigurationError

__all__ = [
    "choose_dtype",
    "cpu_has_native_bf16",
    "resolve_attention",
    "resolve_device",
    "resolve_dtype",
]

logger = logging.getLogger("univec")
_warned: set[str] = set()
ATTENTION_IMPLEMENTATIONS = ("sdpa", "eager", "flash_attention_2")

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``device`` as a ``torch.device``; ``None``/``"auto"`` picks cuda, then mps, then cpu."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ConfigurationError(
            f"device={device!r} is not a torch device. Use 'cuda', 'cuda:1', 'mps' or 'cpu'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigurationError(
                f"device={device!r} but CUDA is not available. Use device='cpu'."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigurationError(
                f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) are "
                "visible. Use device='cuda' or an index below that count."
            )
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigurationError(
                f"device={device!r} but MPS (Apple GPU) is not available. Use device='cpu'."
            )
    return resolved


def resolve_dtype(dtype: Any, device: torch.device) -> torch.dtype:
    """``dtype`` as a ``torch.dtype``; ``None``/``"auto"`` is bfloat16 on GPUs, float32 on CPU."""
    if dtype is None or dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    elif isinstance(dtype, str) and dtype.lower().removeprefix("torch.") in _DTYPES:
        resolved = _DTYPES[dtype.lower().removeprefix("torch.")]
    else:
        resolved = None
    if resolved not in (torch.float32, torch.bfloat16, torch.float16):
        raise ConfigurationError(
            f"dtype={dtype!r} is not supported. Use 'float32', 'bfloat16' or 'float16' "
            "(or the torch dtypes)."
        )
    return resolved


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX-512 BF16 on x86).

    Without it PyTorch emulates bfloat16 matmuls and element-wise ops on CPU, which is
    slower than float32.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap check, assume emulated
        return False
    flags = next((line for line in text.splitlines() if line.startswith("flags")), "").split()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def choose_dtype(dtype: Any, device: torch.device) -> tuple[torch.dtype, str]:
    """The dtype to run in, and why (shown in ``Encoder.info``).

    ``None``/``"auto"``: bfloat16 on GPUs; on CPU float32 (exact; the faster of the two
    where the CPU has no bfloat16 hardware, and the one that matches the reference to
    float32 precision). An explicit bfloat16/float16 on a CPU without bfloat16 hardware
    is honoured, with a warning logged once.
    """
    if dtype is None or dtype == "auto":
        if device.type != "cpu":
            return torch.bfloat16, f"auto: bfloat16 on {device.type}"
        if cpu_has_native_bf16():
            return torch.float32, (
                "auto: float32 on CPU (exact; this CPU has bfloat16 hardware: "
                "dtype='bfloat16' may be faster, approximate)"
            )
        return torch.float32, "auto: float32 on CPU (no bfloat16 hardware: bfloat16 is slower)"
    resolved = resolve_dtype(dtype, device)
    name = str(resolved).removeprefix("torch.")
    if device.type == "cpu" and resolved != torch.float32 and not cpu_has_native_bf16():
        if name not in _warned:
            _warned.add(name)
            logger.warning(
                "dtype=%r on a CPU without bfloat16 hardware: PyTorch emulates it, which is "
                "slower than float32 here. Leave dtype unset (float32) for speed.",
                name,
            )
        return resolved, f"{name} as asked (emulated on this CPU: slower than float32)"
    return resolved, f"{name} as asked"


def resolve_attention(name: str | None, device: torch.device, dtype: torch.dtype) -> str:
    """The transformers attention implementation to use.

    ``None``/``"auto"``: ``"flash_attention_2"`` on CUDA in 16-bit when the ``flash_attn``
    package is installed (texts then run packed, without padding), else ``"sdpa"``.

    Raises:
        ConfigurationError: Unknown name, or flash-attention asked for but unusable.
    """
    flash_ready = (
        device.type == "cuda"
        and dtype in (torch.bfloat16, torch.float16)
        and importlib.util.find_spec("flash_attn") is not None
    )
    if name is None or name == "auto":
        return "flash_attention_2" if flash_ready else "sdpa"
    if name not in ATTENTION_IMPLEMENTATIONS:
        raise ConfigurationError(
            f"attn_implementation={name!r} is not supported. Use 'auto', "
            + ", ".join(repr(option) for option in ATTENTION_IMPLEMENTATIONS)
            + "."
        )
    if name == "flash_attention_2" and not flash_ready:
        raise ConfigurationError(
            "attn_implementation='flash_attention_2' needs a CUDA device, dtype bfloat16 or "
            "float16 and the flash-attn package (pip install flash-attn --no-build-isolation). "
            "Use 'sdpa' otherwise."
        )
    return name
