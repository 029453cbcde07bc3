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
    md(
        "## Matryoshka dimensions\nSmaller vectors, same meaning: truncate to any of `encoder.matryoshka_dims`."
    ),
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
    md(
        "## Images\nImages go in the same list as text: a `PIL.Image`, a `pathlib.Path` or `univec.Image` (path, URL, bytes)."
    ),
    code("""
from PIL import Image, ImageDraw

picture = Image.new("RGB", (224, 160), "white")
ImageDraw.Draw(picture).rectangle((40, 30, 180, 130), fill="red")

mixed = encoder.encode(["A red rectangle on white", picture], task="retrieval.passage")
print(mixed.shape)
"""),
    md(
        "## Both outputs in one pass\nIngestion needs dense and multi vectors: `encode_both` computes them in one forward pass."
    ),
    code("""
both = encoder.encode_both(passages, task="retrieval.passage")
print(both.dense.shape, len(both.multi))
assert np.allclose(both.dense, doc_vectors, atol=1e-5)
"""),
)


notebook(
    "02_multivector_collections.ipynb",
    md("""
# Late interaction in a vector database: Qdrant and Milvus

`QdrantCollection` and `MilvusCollection` store every document twice over: a **dense** single vector
(for fast candidate search) and its **multi-vector** (one 128-d vector per token, scored with MaxSim).
`search(mode="hybrid")` takes dense candidates and reranks them by exact MaxSim in one request.
Both classes have the same interface: change the class, keep the code.

Here the embedded engines run in-process: Qdrant Edge (a directory) and Milvus Lite (a file).
"""),
    code("""
import tempfile
from pathlib import Path

import numpy as np
import univec
from univec_qdrant import QdrantCollection

encoder = univec.Encoder.from_env()
workdir = Path(tempfile.mkdtemp())

documents = [
    "The Eiffel Tower is in Paris.",
    "Photosynthesis turns light into chemical energy.",
    "Late interaction compares query and document token by token.",
    "The Great Wall of China is thousands of kilometres long.",
]
metadata = [{"topic": "travel"}, {"topic": "biology"}, {"topic": "search"}, {"topic": "travel"}]
"""),
    code("""
collection = QdrantCollection("notes", encoder, path=workdir / "qdrant", progress=False)
collection.add(documents, ids=["eiffel", "plants", "maxsim", "wall"], metadata=metadata)
print(len(collection), "documents")

for mode in ("hybrid", "multi", "dense"):
    hits = collection.search("Where is the Eiffel Tower?", k=2, mode=mode)
    print(mode, [(hit.id, round(hit.score, 3)) for hit in hits])
"""),
    md(
        "The `multi` score *is* MaxSim of the encoder's own vectors: nothing approximate is stored."
    ),
    code("""
query = encoder.encode(["Where is the Eiffel Tower?"], task="retrieval.query", multivector=True)[0]
document = encoder.encode([documents[0]], task="retrieval.passage", multivector=True)[0]
hit = {h.id: h for h in collection.search("Where is the Eiffel Tower?", k=4, mode="multi")}["eiffel"]
print(hit.score, univec.maxsim(query, document))
assert abs(hit.score - univec.maxsim(query, document)) < 1e-3
"""),
    md(
        "Filters are metadata dicts (equality, or a list for *any of*); re-adding upserts instead of duplicating."
    ),
    code("""
travel = collection.search("famous landmarks", k=4, filter={"topic": "travel"})
print([hit.id for hit in travel])
assert {hit.id for hit in travel} <= {"eiffel", "wall"}

collection.add(documents, ids=["eiffel", "plants", "maxsim", "wall"], metadata=metadata)
assert len(collection) == 4
collection.close()
"""),
    md("## The same code on Milvus Lite"),
    code("""
from univec_milvus import MilvusCollection

with MilvusCollection("notes", encoder, uri=str(workdir / "milvus.db"), progress=False) as milvus:
    milvus.add(documents, ids=["eiffel", "plants", "maxsim", "wall"], metadata=metadata)
    hits = milvus.search("Where is the Eiffel Tower?", k=2, mode="hybrid")
    print([(hit.id, round(hit.score, 3)) for hit in hits])
    print(len(milvus), "documents")
"""),
)

notebook(
    "03_frameworks.ipynb",
    md("""
# univec in LangChain, LlamaIndex and Haystack

Each framework gets a thin embedder over the same `univec.Encoder`. Give it an `encoder=` or the same flat
configuration as `Encoder.from_config` (`backend="local"|"api"`, `model`, `device`, `api_key`, ...), and a task
*family*: queries are encoded with `<family>.query`, documents with `<family>.passage`.
"""),
    code("""
import os
import numpy as np
import univec

encoder = univec.Encoder.from_env()
texts = ["The Eiffel Tower is in Paris.", "Photosynthesis turns light into chemical energy."]
"""),
    md("## LangChain"),
    code("""
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_univec import UnivecEmbeddings

embeddings = UnivecEmbeddings(encoder=encoder, task="retrieval")
store = InMemoryVectorStore.from_texts(texts, embedding=embeddings)
print(store.similarity_search("Where is the Eiffel Tower?", k=1))

expected = encoder.encode(["Where is the Eiffel Tower?"], task="retrieval.query")[0]
assert np.allclose(embeddings.embed_query("Where is the Eiffel Tower?"), expected, atol=1e-6)
"""),
    md("## LlamaIndex"),
    code("""
from llama_index.core import Document, VectorStoreIndex
from llama_index.embeddings.univec import UnivecEmbedding

embed_model = UnivecEmbedding(encoder=encoder, task="retrieval")
index = VectorStoreIndex.from_documents([Document(text=t) for t in texts], embed_model=embed_model)
for node in index.as_retriever(similarity_top_k=1).retrieve("How do plants make energy?"):
    print(round(node.score, 3), node.node.get_content())
"""),
    md("## Haystack"),
    code("""
from haystack import Document as HaystackDocument, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack_integrations.components.embedders.univec import UnivecDocumentEmbedder, UnivecTextEmbedder

model = os.environ.get("UNIVEC_MODEL", "jinaai/jina-embeddings-v4")
document_store = InMemoryDocumentStore()
indexing = Pipeline()
indexing.add_component("embedder", UnivecDocumentEmbedder(model=model, task="retrieval", progress_bar=False))
indexing.add_component("writer", DocumentWriter(document_store=document_store))
indexing.connect("embedder", "writer")
indexing.run({"embedder": {"documents": [HaystackDocument(content=t) for t in texts]}})

querying = Pipeline()
querying.add_component("embedder", UnivecTextEmbedder(model=model, task="retrieval"))
querying.add_component("retriever", InMemoryEmbeddingRetriever(document_store=document_store, top_k=1))
querying.connect("embedder.embedding", "retriever.query_embedding")
result = querying.run({"embedder": {"text": "Where is the Eiffel Tower?"}})
print(result["retriever"]["documents"])
print(querying.dumps()[:400])
"""),
)


notebook(
    "04_late_interaction_in_frameworks.ipynb",
    md("""
# Late interaction (MaxSim) inside LangChain, LlamaIndex and Haystack

The framework *embedders* of `03_frameworks` give each document one vector. The framework *stores*
below keep both outputs of one jina-embeddings-v4 pass, the single vector **and** the token vectors,
in a univec collection (Qdrant or Milvus), and score by MaxSim from the query text:

| framework | store | retriever |
|---|---|---|
| LangChain | `langchain_univec.UnivecVectorStore` | `store.as_retriever(search_kwargs={"k", "filter", "mode"})` |
| LlamaIndex | `llama_index.vector_stores.univec.UnivecVectorStore` | `VectorStoreIndex.from_vector_store(store, embed_model=store.embed_model).as_retriever()` |
| Haystack | `haystack_integrations.document_stores.univec.UnivecDocumentStore` | `UnivecMultiVectorRetriever` |

All three wrap the same kind of collection, so here they share **one**: documents written through one
framework are found through the others, with the collection's own scores.
"""),
    code("""
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import univec
from univec_qdrant import QdrantCollection

encoder = univec.Encoder.from_env()
workdir = Path(tempfile.mkdtemp())

def picture(name, color, shape):
    image = Image.new("RGB", (224, 224), "white")
    draw = ImageDraw.Draw(image)
    (draw.ellipse if shape == "circle" else draw.rectangle)((40, 40, 184, 184), fill=color)
    image.save(workdir / name)
    return str(workdir / name)

images = [picture("sun.png", "orange", "circle"), picture("sea.png", "blue", "square")]
texts = [
    "The Eiffel Tower is in Paris.",
    "Photosynthesis turns light into chemical energy.",
    "MaxSim sums, over query tokens, the best match among document tokens.",
]
collection = QdrantCollection("frameworks", encoder, path=workdir / "qdrant", progress=False)
"""),
    md("""
## LangChain: add texts and images, search with MaxSim
`add_texts` / `add_images` (paths, URLs or bytes) encode each item once; searches run in `mode`
`"hybrid"` (dense candidates reranked by exact MaxSim, the default), `"multi"` or `"dense"`; filters
are LangChain metadata dicts (`$eq $ne $gt $gte $lt $lte $in $nin $exists`, `$and $or $not`).
"""),
    code("""
from langchain_univec import UnivecVectorStore as LangChainStore

lc_store = LangChainStore(collection)
lc_store.add_texts(texts, [{"kind": "text", "year": 2020 + i} for i in range(3)], ids=["eiffel", "plants", "maxsim"])
lc_store.add_images(images, [{"kind": "image", "year": 2024}] * 2, ids=["sun", "sea"])

for doc, score in lc_store.similarity_search_with_score("Where is the Eiffel Tower?", k=3, mode="multi"):
    print(round(score, 3), doc.id, doc.metadata, doc.page_content[:40])

hits = collection.search("Where is the Eiffel Tower?", k=3, mode="multi")
found = lc_store.similarity_search_with_score("Where is the Eiffel Tower?", k=3, mode="multi")
assert [d.id for d, _ in found] == [h.id for h in hits]
assert np.allclose([s for _, s in found], [h.score for h in hits], atol=1e-5)

retriever = lc_store.as_retriever(search_kwargs={"k": 5, "filter": {"kind": "image"}})
print([doc.id for doc in retriever.invoke("an orange circle")])
assert {doc.id for doc in retriever.invoke("an orange circle")} == {"sun", "sea"}
print([doc.id for doc in lc_store.max_marginal_relevance_search("energy", k=3, fetch_k=5)])
"""),
    md("""
## LlamaIndex: the same collection behind a `VectorStoreIndex`
The store scores the query *text*, so the index embeds no query. Give the index the store's
`embed_model`: its one encoding pass per node gives the index the single vector and the store the
token vectors (as a transformation it encodes `ImageNode` images as images).
"""),
    code("""
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.schema import ImageNode, TextNode
from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.vector_stores.univec import UnivecVectorStore as LlamaIndexStore

li_store = LlamaIndexStore(collection)
index = VectorStoreIndex.from_vector_store(li_store, embed_model=li_store.embed_model)
retrieved = index.as_retriever(similarity_top_k=3).retrieve("Where is the Eiffel Tower?")
for result in retrieved:
    print(round(result.score, 3), result.node.node_id, type(result.node).__name__)
hits = collection.search("Where is the Eiffel Tower?", k=3)
assert [r.node.node_id for r in retrieved] == [str(h.id) for h in hits]
assert np.allclose([r.score for r in retrieved], [h.score for h in hits], atol=1e-5)

# Ingest new nodes through the index: one model pass per node, images stored as images.
nodes = li_store.embed_model([
    TextNode(id_="seine", text="The Seine flows through Paris.", metadata={"kind": "text", "year": 2025}),
    ImageNode(id_="sun-again", image_path=images[0], metadata={"kind": "image", "year": 2025}),
])
VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=li_store),
                 embed_model=li_store.embed_model)
recent = MetadataFilters(filters=[MetadataFilter(key="year", value=2024, operator=FilterOperator.GTE)])
retriever = index.as_retriever(similarity_top_k=10, filters=recent, vector_store_kwargs={"mode": "multi"})
print(sorted(r.node.node_id for r in retriever.retrieve("Paris")))
assert {r.node.node_id for r in retriever.retrieve("Paris")} == {"sun", "sea", "seine", "sun-again"}
"""),
    md("""
## Haystack: a document store and a MaxSim retriever
`UnivecDocumentStore` speaks Haystack's `DocumentStore` protocol (filters in Haystack's syntax);
`UnivecMultiVectorRetriever` needs no embedder component. Haystack keeps a Document's `meta` under the
metadata key `"meta"` (beside its `id` and `content`), so its `meta.*` filters address documents
written through Haystack; unfiltered searches find every document of the collection.
"""),
    code("""
from haystack import Document, Pipeline
from haystack.dataclasses import ByteStream
from haystack.document_stores.types import DuplicatePolicy
from haystack_integrations.components.retrievers.univec import UnivecMultiVectorRetriever
from haystack_integrations.document_stores.univec import UnivecDocumentStore

document_store = UnivecDocumentStore(collection=collection)
document_store.write_documents([
    Document(id="louvre", content="The Louvre is a museum in Paris.", meta={"kind": "text"}),
    Document(id="sea-bytes", blob=ByteStream.from_file_path(Path(images[1]), mime_type="image/png"),
             meta={"kind": "image"}),
], policy=DuplicatePolicy.OVERWRITE)

pipeline = Pipeline()
pipeline.add_component("retriever", UnivecMultiVectorRetriever(document_store, top_k=3))
result = pipeline.run({"retriever": {
    "query": "Which museum is in Paris?",
    "filters": {"field": "meta.kind", "operator": "==", "value": "text"},
}})
for document in result["retriever"]["documents"]:
    print(round(document.score, 3), document.id, (document.content or "")[:40])
hits = collection.search("Which museum is in Paris?", k=3, filter={"meta.kind": "text"})
assert [d.id for d in result["retriever"]["documents"]] == [str(h.id) for h in hits] == ["louvre"]
everything = pipeline.run({"retriever": {"query": "Paris", "top_k": 10}})["retriever"]["documents"]
print(sorted(d.id for d in everything), document_store.count_documents(), "documents in the collection")
"""),
    md("## The same stores on Milvus Lite"),
    code("""
from univec_milvus import MilvusCollection

with MilvusCollection("frameworks", encoder, uri=str(workdir / "milvus.db"), progress=False) as milvus:
    store = LangChainStore(milvus)
    store.add_texts(texts, ids=["eiffel", "plants", "maxsim"])
    store.add_images(images, ids=["sun", "sea"])
    li_milvus = LlamaIndexStore(milvus)
    index = VectorStoreIndex.from_vector_store(li_milvus, embed_model=li_milvus.embed_model)
    print([r.node.node_id for r in index.as_retriever(similarity_top_k=2).retrieve("a blue square")])
    print([d.id for d in store.similarity_search("Where is the Eiffel Tower?", k=2)])
document_store.close()  # closes the shared Qdrant collection too
"""),
)


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` from its cell sources."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        new_markdown_cell(src) if kind == "md" else new_code_cell(src)
        for kind, src in NOTEBOOKS[name]
    ]
    return nb


def main() -> None:
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
