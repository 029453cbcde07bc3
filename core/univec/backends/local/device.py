"""Pick the device and dtype of the local backend."""

from __future__ import annotations

from typing import Any

import torch

from univec.errors import ConfigurationError

__all__ = ["resolve_device", "resolve_dtype"]

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
