"""What the univec Haystack components share: encoder parameters, warm-up and (de)serialisation."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from haystack import default_from_dict
from haystack.core.errors import SerializationError
from haystack.utils import Secret, deserialize_secrets_inplace

from univec.encoder import Encoder
from univec.framework import FamilyEncoder

ComponentT = TypeVar("ComponentT", bound="EncoderComponent")


def default_api_key() -> Secret:
    """``JINA_API_KEY`` from the environment, optional (the local backend needs no key)."""
    return Secret.from_env_var("JINA_API_KEY", strict=False)


class EncoderComponent:
    """Base of the univec components: stores the encoder parameters, builds the encoder in ``warm_up``."""

    def _init_encoder(
        self,
        *,
        encoder: Encoder | None,
        backend: str,
        model: str | None,
        device: str | None,
        dtype: str | None,
        max_length: int | None,
        api_key: Secret | None,
        base_url: str | None,
        encoder_options: dict[str, Any] | None,
        task: str,
        dimensions: int | None,
    ) -> None:
        self.encoder = encoder
        self.backend = backend
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.api_key = api_key
        self.base_url = base_url
        self.encoder_options = encoder_options
        self.task = task
        self.dimensions = dimensions
        # Checks the configuration now; the model is loaded (or the client opened) in warm_up.
        self._family = FamilyEncoder(
            encoder,
            task=task,
            dimensions=dimensions,
            options=encoder_options,
            backend=backend,
            model=model,
            device=device,
            dtype=dtype,
            max_length=max_length,
            api_key=api_key,
            base_url=base_url,
        )

    def warm_up(self) -> None:
        """Load the model (local backend) or create the client (API backend)."""
        _ = self._family.encoder

    async def warm_up_async(self) -> None:
        """Async form of :meth:`warm_up`: loads the model off the event loop."""
        if not self._family.is_built:
            await asyncio.to_thread(self.warm_up)

    def _encoder_parameters(self) -> dict[str, Any]:
        if self.encoder is not None:
            raise SerializationError(
                f"{type(self).__name__} was given a ready encoder=, which cannot be serialised. "
                "Build it from configuration (backend=..., model=..., ...) to save it in a pipeline."
            )
        return {
            "backend": self.backend,
            "model": self.model,
            "device": self.device,
            "dtype": self.dtype,
            "max_length": self.max_length,
            "api_key": self.api_key.to_dict() if self.api_key is not None else None,
            "base_url": self.base_url,
            "encoder_options": self.encoder_options,
            "task": self.task,
            "dimensions": self.dimensions,
        }

    @classmethod
    def from_dict(cls: type[ComponentT], data: dict[str, Any]) -> ComponentT:
        """Build the component from :meth:`to_dict`'s output."""
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        deserialize_secrets_inplace(data["init_parameters"], keys=["api_key"])
        return default_from_dict(cls, data)
