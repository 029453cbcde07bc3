"""Late chunking on the local backend: one document, one sequence, one vector per chunk.

The rules (joining, which tokens each chunk pools, windows) are those of
:mod:`univec.late_chunking`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from univec.backends.base import Usage
from univec.late_chunking import chunk_owners, join_chunks
from univec.tasks import TaskSpec

if TYPE_CHECKING:
    from univec.backends.local.backend import LocalBackend

__all__ = ["embed_late_chunks"]


def embed_late_chunks(
    backend: LocalBackend, chunks: list[str], task: TaskSpec
) -> tuple[np.ndarray, Usage]:
    """Unit-norm single vectors of ``chunks``, consecutive pieces of one document.

    The document (``task.prefix`` + the joined chunks) runs in one forward pass, or in
    consecutive windows of ``max_length`` tokens when it is longer; each chunk's vector is
    the L2-normalised mean of its tokens' final hidden states.

    Returns:
        ``(vectors (n_chunks, hidden), usage)``.
    """
    text, starts = join_chunks(chunks)
    encoding = backend.preprocessor.tokenizer.encode(task.prefix + text, add_special_tokens=False)
    ids: list[int] = encoding.ids
    owners = chunk_owners(encoding.offsets, starts, len(task.prefix))
    window = backend.preprocessor.max_length
    rows: list[torch.Tensor] = []
    with torch.inference_mode():
        for begin in range(0, len(ids), window):
            piece = torch.tensor([ids[begin : begin + window]], device=backend.device)
            hidden = backend.model.text_hidden_states(piece)
            rows.append(hidden[0].to(torch.float32))
        states = torch.cat(rows)
        means = torch.stack(
            [states[torch.tensor(tokens, device=states.device)].mean(dim=0) for tokens in owners]
        )
        vectors: np.ndarray = torch.nn.functional.normalize(means, dim=-1).cpu().numpy()
    usage = Usage(total_tokens=len(ids), prompt_tokens=len(ids))
    return vectors, usage
