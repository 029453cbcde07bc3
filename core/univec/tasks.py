"""The model's tasks: one source of truth for task strings, adapters and prefixes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from univec.errors import InvalidTaskError

__all__ = ["TASKS", "TaskFamily", "TaskName", "TaskSpec", "family_tasks", "resolve_task"]

TaskName = Literal[
    "retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"
]
TaskFamily = Literal["retrieval", "text-matching", "code"]

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
        is_query: Whether this is the query side of an asymmetric task.
    """

    name: str
    adapter: str
    prefix: str
    is_query: bool


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("retrieval.query", "retrieval", QUERY_PREFIX, True),
        TaskSpec("retrieval.passage", "retrieval", PASSAGE_PREFIX, False),
        # Symmetric: both sides are embedded as queries.
        TaskSpec("text-matching", "text-matching", QUERY_PREFIX, True),
        TaskSpec("code.query", "code", QUERY_PREFIX, True),
        TaskSpec("code.passage", "code", PASSAGE_PREFIX, False),
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
