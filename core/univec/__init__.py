"""univec: jina-embeddings-v4, exact and fast, in the RAG stacks people already run.

``import univec`` is light: torch, transformers, httpx and every framework are imported
only by the backend or integration that needs them.

Example:
    >>> import univec
    >>> encoder = univec.Encoder.from_env()          # UNIVEC_BACKEND=local|api
    >>> vectors = encoder.encode(["hello"], task="retrieval.query")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from univec import errors, late_chunking, models, quantization
from univec.backends.base import Embeddings, ModelInfo, Usage
from univec.encoder import Encoder
from univec.errors import UnivecError
from univec.inputs import Image
from univec.scoring import maxsim, maxsim_many
from univec.tasks import TASKS, family_tasks, resolve_task

if TYPE_CHECKING:  # resolved lazily by __getattr__ below (needs the "pdf" extra)
    from univec.pdf import pdf_pages

__version__ = "0.1.0"

__all__ = [
    "TASKS",
    "Embeddings",
    "Encoder",
    "Image",
    "ModelInfo",
    "UnivecError",
    "Usage",
    "__version__",
    "errors",
    "family_tasks",
    "late_chunking",
    "maxsim",
    "maxsim_many",
    "models",
    "pdf_pages",
    "quantization",
    "resolve_task",
]


def __getattr__(name: str) -> Any:
    # pdf_pages needs pypdfium2 (extra "pdf"); resolve it only when asked for.
    if name == "pdf_pages":
        from univec.pdf import pdf_pages

        return pdf_pages
    raise AttributeError(f"module 'univec' has no attribute {name!r}")
