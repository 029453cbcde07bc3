"""Write the example notebooks from the cell sources below (run: python examples/_build_notebooks.py).

Notebooks are committed as .ipynb; keeping their sources here makes them reviewable as code.
The test suite executes every notebook in examples/ (tests/examples/test_notebooks.py).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}


def notebook(name: str, *cells: tuple[str, str]) -> None:
    NOTEBOOKS[name] = list(cells)


def md(text: str) -> tuple[str, str]:
    return ("md", text.strip())


def code(text: str) -> tuple[str, str]:
    return ("code", text.strip())


notebook(
    "01_quickstart.ipynb",
    md("""
# univec quickstart: encoding with jina-embeddings-v4

`univec.Encoder` runs the model **locally** (PyTorch) or through the **hosted Jina API**, behind one
interface. `Encoder.from_env()` picks the backend from environment variables, so the same notebook
runs either way:

| variable | meaning |
|---|---|
| `UNIVEC_BACKEND` | `local` (default) or `api` |
| `UNIVEC_MODEL` | checkpoint directory or hub id (default `jinaai/jina-embeddings-v4`) |
| `UNIVEC_DEVICE` | `cuda`, `mps` or `cpu` (default: best available) |
| `JINA_API_KEY` | the API key, for `UNIVEC_BACKEND=api` |
"""),
    code("""
import numpy as np
import univec

encoder = univec.Encoder.from_env()
encoder, encoder.dim, encoder.matryoshka_dims
"""),
    md("""
## Queries and passages
Say *what* you encode with the task; univec adds the model's `Query:` / `Passage:` prefixes and picks
the LoRA adapter (`retrieval`, `text-matching` or `code`).
"""),
    code("""
passages = [
    "The Eiffel Tower is in Paris.",
    "Photosynthesis turns light into chemical energy.",
    "def add(a, b):\\n    return a + b",
]
queries = ["Where is the Eiffel Tower?", "How do plants make energy?"]

doc_vectors = encoder.encode(passages, task="retrieval.passage")
query_vectors = encoder.encode(queries, task="retrieval.query")
scores = query_vectors @ doc_vectors.T          # rows are unit-norm: dot product = cosine
print(doc_vectors.shape, doc_vectors.dtype)
print(np.round(scores, 3))
assert np.allclose(np.linalg.norm(doc_vectors, axis=1), 1.0, atol=1e-5)
"""),
    md("## Matryoshka dimensions\nSmaller vectors, same meaning: truncate to any of `encoder.matryoshka_dims`."),
    code("""
small = encoder.encode(passages, task="retrieval.passage", dimensions=encoder.matryoshka_dims[0])
print(small.shape)
assert small.shape == (len(passages), encoder.matryoshka_dims[0])
"""),
    md("""
## Multi-vectors and late interaction
`multivector=True` returns one 128-d vector per token. Score with MaxSim: for every query token, the best
matching document token, summed.
"""),
    code("""
doc_multi = encoder.encode(passages, task="retrieval.passage", multivector=True)
query_multi = encoder.encode(queries, task="retrieval.query", multivector=True)
print([m.shape for m in doc_multi])
late_scores = np.array([[univec.maxsim(q, d) for d in doc_multi] for q in query_multi])
print(np.round(late_scores, 3))
"""),
    md("## Images\nImages go in the same list as text: a `PIL.Image`, a `pathlib.Path` or `univec.Image` (path, URL, bytes)."),
    code("""
from PIL import Image, ImageDraw

picture = Image.new("RGB", (224, 160), "white")
ImageDraw.Draw(picture).rectangle((40, 30, 180, 130), fill="red")

mixed = encoder.encode(["A red rectangle on white", picture], task="retrieval.passage")
print(mixed.shape)
"""),
    md("## Both outputs in one pass\nIngestion needs dense and multi vectors: `encode_both` computes them in one forward pass."),
    code("""
both = encoder.encode_both(passages, task="retrieval.passage")
print(both.dense.shape, len(both.multi))
assert np.allclose(both.dense, doc_vectors, atol=1e-5)
"""),
)


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
