"""The Jina embedding model family on the hosted API: one frozen description per model.

The hosted API chooses a request schema by ``model``; each :class:`ModelDescription` records
what that schema and the model allow (from the API's published OpenAPI description), so the
API backend can refuse what a model lacks *before* anything is sent, and never sends a field
the model's schema does not have. A model missing here (a new release) is still usable: the
API backend warns and sends it as given (:func:`describe` returns ``None``).

The local backend runs jina-embeddings-v4 only.

Example:
    >>> univec.models.MODELS["jina-embeddings-v3"].tasks
    ('retrieval.query', 'retrieval.passage', 'text-matching', 'classification', 'separation')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from univec.errors import ConfigurationError, InvalidTaskError

__all__ = [
    "MODELS",
    "ModelDescription",
    "check_local_model",
    "describe",
    "model_names",
    "task_sides",
]

_V5_TASKS = (
    "retrieval.query",
    "retrieval.passage",
    "text-matching",
    "clustering",
    "classification",
)
_CODE_TASKS = tuple(
    f"{kind}.{side}"
    for kind in ("nl2code", "qa", "code2code", "code2nl", "code2completion")
    for side in ("query", "passage")
)


@dataclass(frozen=True)
class ModelDescription:
    """What one hosted model takes and returns.

    Attributes:
        name: The API model name.
        dim: Size of the full single vector.
        matryoshka_dims: The dimensions it was trained to be truncated to (``dimensions=``).
        tasks: The task strings it accepts, in the order its documentation lists them.
        inputs: Input kinds it embeds: ``"text"``, ``"image"``.
        multivector: Whether it returns token vectors (``return_multivector``).
        multivector_dim: Size of each token vector (0 without multi-vectors).
        late_chunking: Whether its schema has ``late_chunking``.
        max_inputs_per_request: The API's cap on inputs in one request.
        max_length: Most tokens one input is encoded with.
        fields: The request fields its schema has (univec never sends another).
        sent_tasks: The tasks sent as ``task``; a task of :attr:`tasks` missing here is sent
            without the field (``jina-clip-v2`` takes ``task`` for queries only).
    """

    name: str
    dim: int
    matryoshka_dims: tuple[int, ...]
    tasks: tuple[str, ...]
    inputs: frozenset[str]
    multivector: bool
    late_chunking: bool
    max_inputs_per_request: int
    max_length: int
    fields: frozenset[str]
    multivector_dim: int = 0
    sent_tasks: tuple[str, ...] | None = field(default=None)

    def task_field(self, task: str) -> str | None:
        """The ``task`` value to send for ``task``, or ``None`` to leave the field out."""
        sent = self.tasks if self.sent_tasks is None else self.sent_tasks
        return task if task in sent else None

    def supports(self) -> str:
        """A one-line summary of what the model supports, for error messages."""
        extras = [kind for kind, has in (("multi-vectors", self.multivector),
                                         ("late chunking", self.late_chunking)) if has]  # fmt: skip
        return (
            f"{self.name} takes {'/'.join(sorted(self.inputs))} inputs, tasks "
            f"{list(self.tasks)}, dimensions {list(self.matryoshka_dims)}"
            + (f", {' and '.join(extras)}" if extras else ", no multi-vectors, no late chunking")
        )


_COMMON = frozenset({"model", "input", "task", "dimensions", "embedding_type", "truncate"})


def _table(*descriptions: ModelDescription) -> Mapping[str, ModelDescription]:
    return MappingProxyType({description.name: description for description in descriptions})


#: Every model of the family univec knows, by API name.
MODELS: Mapping[str, ModelDescription] = _table(
    ModelDescription(
        name="jina-embeddings-v4",
        dim=2048,
        matryoshka_dims=(128, 256, 512, 1024, 2048),
        tasks=(
            "retrieval.query",
            "retrieval.passage",
            "text-matching",
            "code.query",
            "code.passage",
        ),
        inputs=frozenset({"text", "image"}),
        multivector=True,
        multivector_dim=128,
        late_chunking=True,
        max_inputs_per_request=512,
        max_length=32768,
        fields=_COMMON | {"late_chunking", "return_multivector"},
    ),
    ModelDescription(
        name="jina-embeddings-v3",
        dim=1024,
        matryoshka_dims=(32, 64, 128, 256, 512, 768, 1024),
        tasks=(
            "retrieval.query",
            "retrieval.passage",
            "text-matching",
            "classification",
            "separation",
        ),
        inputs=frozenset({"text"}),
        multivector=False,
        late_chunking=True,
        max_inputs_per_request=2048,
        max_length=8192,
        fields=_COMMON | {"late_chunking", "normalized"},
    ),
    ModelDescription(
        name="jina-embeddings-v5-text-small",
        dim=1024,
        matryoshka_dims=(32, 64, 128, 256, 512, 768, 1024),
        tasks=_V5_TASKS,
        inputs=frozenset({"text"}),
        multivector=False,
        late_chunking=False,
        max_inputs_per_request=2048,
        max_length=32768,
        fields=_COMMON | {"normalized"},
    ),
    ModelDescription(
        name="jina-embeddings-v5-text-nano",
        dim=768,
        matryoshka_dims=(32, 64, 128, 256, 512, 768),
        tasks=_V5_TASKS,
        inputs=frozenset({"text"}),
        multivector=False,
        late_chunking=False,
        max_inputs_per_request=2048,
        max_length=8192,
        fields=_COMMON | {"normalized"},
    ),
    ModelDescription(
        name="jina-clip-v2",
        dim=1024,
        matryoshka_dims=(64, 128, 256, 512, 768, 1024),
        tasks=("retrieval.query", "retrieval.passage", "text-matching"),
        sent_tasks=("retrieval.query",),
        inputs=frozenset({"text", "image"}),
        multivector=False,
        late_chunking=False,
        max_inputs_per_request=2048,
        max_length=8192,
        fields=_COMMON | {"normalized"},
    ),
    ModelDescription(
        name="jina-code-embeddings-0.5b",
        dim=896,
        matryoshka_dims=(64, 128, 256, 512, 896),
        tasks=_CODE_TASKS,
        inputs=frozenset({"text"}),
        multivector=False,
        late_chunking=False,
        max_inputs_per_request=2048,
        max_length=32768,
        fields=_COMMON,
    ),
    ModelDescription(
        name="jina-code-embeddings-1.5b",
        dim=1536,
        matryoshka_dims=(128, 256, 512, 1024, 1536),
        tasks=_CODE_TASKS,
        inputs=frozenset({"text"}),
        multivector=False,
        late_chunking=False,
        max_inputs_per_request=2048,
        max_length=32768,
        fields=_COMMON,
    ),
)


def describe(model: str) -> ModelDescription | None:
    """The description of ``model``, or ``None`` for a model univec does not know."""
    return MODELS.get(model)


def model_names() -> tuple[str, ...]:
    """The API names of every known model."""
    return tuple(MODELS)


def task_sides(task: str, model: str | None = None) -> tuple[str, str]:
    """The ``(query task, document task)`` that ``task`` means for ``model``.

    ``task`` is a family (``"retrieval"``, ``"code"``, ``"nl2code"``: its ``.query`` and
    ``.passage`` tasks), a full task string (``"retrieval.passage"``: the same family, each
    side its own half; how the incumbent Jina integrations name tasks), or a symmetric task
    (``"text-matching"``, ``"classification"``: both sides). ``model`` ``None`` means
    jina-embeddings-v4; a model univec does not know accepts any task.

    Raises:
        InvalidTaskError: ``model`` has no such task; the message lists the ones it has.
    """
    description = MODELS["jina-embeddings-v4"] if model is None else describe(model)
    if not isinstance(task, str) or not task:
        raise InvalidTaskError(f"task={task!r} must be a task name or family, e.g. 'retrieval'.")
    tasks = description.tasks if description is not None else None
    name = description.name if description is not None else str(model)
    family, _, side = task.rpartition(".")
    if side in ("query", "passage") and (tasks is None or task in tasks):
        query, passage = f"{family}.query", f"{family}.passage"
        if tasks is not None:
            query = query if query in tasks else task
            passage = passage if passage in tasks else task
        return query, passage
    if tasks is None:
        return task, task
    if task in tasks:
        return task, task
    if f"{task}.query" in tasks and f"{task}.passage" in tasks:
        return f"{task}.query", f"{task}.passage"
    families = sorted({t.rpartition(".")[0] for t in tasks if "." in t})
    raise InvalidTaskError(
        f"Unknown task {task!r} for {name}. Use a family {families} or one of its "
        f"tasks: {', '.join(tasks)}."
    )


def check_local_model(model: str | None) -> None:
    """Refuse an API model name given to the local backend, naming both fixes.

    Raises:
        ConfigurationError: ``model`` is the name of a hosted model (``"jina-embeddings-v4"``).
    """
    if model in MODELS:
        hub = " or model='jinaai/jina-embeddings-v4' (the Hugging Face hub id) to run it locally"
        raise ConfigurationError(
            f"model={model!r} is a hosted-API model name, but the backend is local. Add "
            f"backend='api' to use the Jina API{hub if model == 'jina-embeddings-v4' else ''}; "
            "the local backend runs jina-embeddings-v4 checkpoints (a directory or a hub id)."
        )
