"""The model's tasks: one source of truth for task strings, adapters and prefixes."""

from __future__ import annotations

from dataclasses import dataclass

from univec.errors import InvalidTaskError

__all__ = ["TASKS", "TaskSpec", "family_tasks", "resolve_task"]


#: What the model is shown in front of a query or a passage.
QUERY_PREFIX = "Query: "
PASSAGE_PREFIX = "Passage: "


@dataclass(frozen=True)
class TaskSpec:
    """One of the five API task strings and what it means for the model.

    Attributes:
        name: The API task string, e.g. ``"retrieval.query"``.
        adapter: The LoRA adapter (task family) it uses.
        prefix: The text put in front of every text input.
    """

    name: str
    adapter: str
    prefix: str


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("retrieval.query", "retrieval", QUERY_PREFIX),
        TaskSpec("retrieval.passage", "retrieval", PASSAGE_PREFIX),
        # Symmetric: both sides are embedded as queries.
        TaskSpec("text-matching", "text-matching", QUERY_PREFIX),
        TaskSpec("code.query", "code", QUERY_PREFIX),
        TaskSpec("code.passage", "code", PASSAGE_PREFIX),
    )
}

FAMILIES: tuple[str, ...] = ("retrieval", "text-matching", "code")


def resolve_task(task: object) -> TaskSpec:
    """Return the :class:`TaskSpec` for ``task`` or raise :class:`InvalidTaskError`."""
    if isinstance(task, TaskSpec):
        return task
    spec = TASKS.get(task) if isinstance(task, str) else None
    if spec is None:
        hint = ""
        if task in FAMILIES:
            hint = f" {task!r} is a task family: use {family_tasks(str(task))}."
        raise InvalidTaskError(f"Unknown task {task!r}.{hint} Use one of: {', '.join(TASKS)}.")
    return spec


def family_tasks(family: str) -> tuple[str, str]:
    """Return the ``(query_task, document_task)`` pair of a task family.

    ``"text-matching"`` is symmetric, so both sides use ``"text-matching"``.

    Raises:
        InvalidTaskError: ``family`` is not ``"retrieval"``, ``"code"`` or ``"text-matching"``.
    """
    if family == "text-matching":
        return ("text-matching", "text-matching")
    if family in ("retrieval", "code"):
        return (f"{family}.query", f"{family}.passage")
    raise InvalidTaskError(f"Unknown task family {family!r}. Use one of: {', '.join(FAMILIES)}.")
