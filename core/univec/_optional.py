"""Lazy imports of optional dependencies with an install hint naming the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from univec.errors import MissingDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Args:
        module: Dotted module name, e.g. ``"qdrant_client"``.
        extra: The univec extra that brings it, e.g. ``"qdrant"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is required for this feature but is not installed. "
            f'Install it with: pip install "univec[{extra}]"'
        ) from exc
