"""azure-ai-ml, imported once and quietly, for every command that loads YAMLs or talks to Azure."""

from __future__ import annotations

import logging


def quiet_azure_ml() -> None:
    """Import azure-ai-ml and keep only its errors in our output.

    Importing the SDK sets its logger to INFO with its own stderr handler, and loading several
    schemas then logs an "experimental class" notice each: noise between our messages. Call this
    before the first `load_*` or `MLClient`; it is cheap after the first time.
    """
    import azure.ai.ml  # noqa: F401  (the import is what sets the level we override)

    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)
