"""What the univec Haystack components share: parameters, warm-up and (de)serialisation."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, TypeVar

from haystack import Document, default_from_dict, default_to_dict
from haystack.core.errors import SerializationError
from haystack.utils import Secret, deserialize_secrets_inplace

from univec.backends.base import Usage
from univec.encoder import Encoder
from univec_frameworks import FamilyEncoder

ComponentT = TypeVar("ComponentT", bound="EncoderComponent")


def default_api_key() -> Secret:
    """``JINA_API_KEY`` from the environment, optional (the local backend needs no key)."""
    return Secret.from_env_var("JINA_API_KEY", strict=False)


def check_documents(documents: object, component_name: str) -> list[Document]:
    """``documents`` if it is a list of Documents; else the ``TypeError`` Haystack users expect."""
    if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
        raise TypeError(
            f"{component_name} expects a list of Documents as input. "
            "To embed a string, use UnivecTextEmbedder."
        )
    return documents


class EncoderComponent:
    """Base of the univec components: stores the parameters, builds the encoder in ``warm_up``.

    Each component keeps its explicit ``__init__`` signature (Haystack serialises by it) and
    hands its arguments over with ``self._init_parameters(locals())``: every parameter becomes
    an attribute of the same name, and :meth:`to_dict` writes them all back.
    """

    encoder: Encoder | None
    backend: str
    model: str | None
    device: str | None
    dtype: str | None
    max_length: int | None
    api_key: Secret | None
    base_url: str | None
    late_chunking: bool
    encoder_options: dict[str, Any] | None
    task: str
    dimensions: int | None

    def _init_parameters(self, arguments: dict[str, Any]) -> None:
        for name in _parameter_names(type(self)):
            setattr(self, name, arguments[name])
        if isinstance(self.api_key, str):
            # The Haystack way: a plain key becomes a token Secret. It works at run time;
            # to_dict() then refuses it (Haystack does not serialise tokens) and says to use
            # Secret.from_env_var("JINA_API_KEY") instead.
            self.api_key = Secret.from_token(self.api_key)
        # Checks the configuration now; the model is loaded (or the client opened) in warm_up.
        self._family = FamilyEncoder.from_settings(self, self.encoder)

    def close(self) -> None:
        """Release the encoder (``Pipeline.close()`` calls this); ``warm_up`` reopens it."""
        self._family.close()

    def _meta(self, usage: Usage) -> dict[str, Any]:
        """``meta`` of a run, as jina-haystack returns it: the model and the tokens used."""
        return {
            "model": self._family.model_name,
            "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.total_tokens},
        }

    def warm_up(self) -> None:
        """Load the model (local backend) or create the client (API backend)."""
        _ = self._family.encoder

    async def warm_up_async(self) -> None:
        """Async form of :meth:`warm_up`: loads the model off the event loop."""
        if not self._family.is_built:
            await asyncio.to_thread(self.warm_up)

    def to_dict(self) -> dict[str, Any]:
        """Serialise the component (the API key as an env-var reference).

        Raises:
            SerializationError: The component was given a ready ``encoder=``.
        """
        if self.encoder is not None:
            raise SerializationError(
                f"{type(self).__name__} was given a ready encoder=, which cannot be serialised. "
                "Build it from configuration (backend=..., model=..., ...) to save it in a pipeline."
            )
        parameters = {name: getattr(self, name) for name in _parameter_names(type(self))}
        del parameters["encoder"]
        if self.api_key is not None:
            parameters["api_key"] = self.api_key.to_dict()
        return default_to_dict(self, **parameters)

    @classmethod
    def from_dict(cls: type[ComponentT], data: dict[str, Any]) -> ComponentT:
        """Build the component from :meth:`to_dict`'s output."""
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
        return default_from_dict(cls, data)


def _parameter_names(component_class: type) -> list[str]:
    """The names of ``component_class.__init__``'s parameters, ``self`` left out."""
    # The class's own __init__ (Haystack's component metaclass changes the class's call signature).
    init = next(c.__dict__["__init__"] for c in component_class.__mro__ if "__init__" in c.__dict__)
    return list(inspect.signature(init).parameters)[1:]
