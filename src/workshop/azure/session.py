"""Which workspace a command talks to, with which credentials, and how Azure errors read.

Every cloud command resolves its workspace the same way: `--stack NAME` (the Pulumi stack's
outputs), explicit `--subscription/--resource-group/--workspace`, or `--config config.json` (the
file `MLClient.from_config` reads, which the stack also exports). Credentials always come from
`DefaultAzureCredential` (`az login` on a laptop, OIDC federation in CI).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workshop.errors import ExitCode, WorkshopError
from workshop_common import contract
from workshop_common.errors import first_line

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

    from workshop_common.arm import Arm

NO_CREDENTIALS_HINT = (
    "sign in with `az login` (and `az account set --subscription ID`); in CI, log in with "
    "azure/login (OIDC) or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE"
)


@dataclass(frozen=True)
class Workspace:
    """Where the workspace is, and where that knowledge came from (for messages)."""

    subscription_id: str
    resource_group: str
    name: str
    source: str
    location: str | None = None
    studio_url: str | None = None


@dataclass
class Session:
    """A resolved workspace with a credential and an MLClient for it."""

    workspace: Workspace
    credential: TokenCredential
    ml: MLClient


def resolve(
    *,
    stack: str | None = None,
    subscription: str | None = None,
    resource_group: str | None = None,
    workspace: str | None = None,
    config: Path | None = None,
) -> Workspace:
    """Pick the workspace from exactly one of the three sources."""
    explicit = [subscription, resource_group, workspace]
    sources = [stack is not None, any(explicit), config is not None]
    if sum(sources) > 1:
        raise WorkshopError(
            "give the workspace one way only: --stack, or --subscription/--resource-group/"
            "--workspace, or --config",
            hint="drop the options you do not mean",
        )
    if stack is not None:
        from workshop.azure.stack import stack_outputs

        outputs = stack_outputs(stack)
        return Workspace(
            subscription_id=str(outputs[contract.SUBSCRIPTION_ID]),
            resource_group=str(outputs[contract.RESOURCE_GROUP]),
            name=str(outputs[contract.WORKSPACE_NAME]),
            source=f"stack {stack}",
            location=outputs.get(contract.LOCATION),
            studio_url=outputs.get(contract.STUDIO_URL),
        )
    if any(explicit):
        names = ["--subscription", "--resource-group", "--workspace"]
        missing = [name for name, value in zip(names, explicit, strict=True) if not value]
        if missing:
            raise WorkshopError(
                f"missing {', '.join(missing)}: the three options go together",
                hint="pass all three, or use --stack NAME or --config config.json",
            )
        assert subscription and resource_group and workspace
        return Workspace(subscription, resource_group, workspace, source="options")
    if config is not None:
        return _from_config_file(config)
    raise WorkshopError(
        "no workspace given",
        hint="pass --stack NAME (a Pulumi stack of infra/), or --subscription/--resource-group/"
        "--workspace, or --config config.json (downloadable from the workspace's portal page)",
    )


CONFIG_JSON_HINT = (
    f"write it with `pulumi stack output {contract.CONFIG_JSON} > config.json`, or download it "
    "from the workspace's overview page in the Azure portal"
)


def _from_config_file(path: Path) -> Workspace:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise WorkshopError(f"{path}: no such file", hint=CONFIG_JSON_HINT) from exc
    except OSError as exc:
        raise WorkshopError(
            f"{path}: cannot read it ({exc.strerror})", hint=CONFIG_JSON_HINT
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        detail = f"{exc.msg}, line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else exc
        raise WorkshopError(f"{path}: not valid JSON ({detail})", hint=CONFIG_JSON_HINT) from exc
    keys = contract.CONFIG_JSON_KEYS
    if not isinstance(data, dict) or any(not data.get(key) for key in keys):
        found = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise WorkshopError(
            f"{path}: expected the keys {', '.join(keys)} (found: {found or 'nothing'})",
            hint="use the config.json format that MLClient.from_config reads",
        )
    return Workspace(
        str(data["subscription_id"]),
        str(data["resource_group"]),
        str(data["workspace_name"]),
        source=str(path),
    )


def make_credential() -> TokenCredential:
    """DefaultAzureCredential (CLI login, environment, workload identity, managed identity).

    Its warning that lists every credential it tried is silenced: a failure surfaces once, as
    the WorkshopError from `azure_errors` with the fix.
    """
    import logging

    from azure.identity import DefaultAzureCredential

    logging.getLogger("azure.identity").setLevel(logging.ERROR)

    return DefaultAzureCredential()


def make_ml_client(credential: TokenCredential, workspace: Workspace) -> MLClient:
    from azure.ai.ml import MLClient

    from workshop.sdk import quiet_azure_ml

    quiet_azure_ml()

    return MLClient(
        credential,
        subscription_id=workspace.subscription_id,
        resource_group_name=workspace.resource_group,
        workspace_name=workspace.name,
    )


def make_arm(credential: TokenCredential) -> Arm:
    from workshop_common.arm import ArmClient

    return ArmClient(credential)


def connect(workspace: Workspace) -> Session:
    """A session on the workspace; tests replace make_credential/make_ml_client."""
    credential = make_credential()
    return Session(workspace, credential, make_ml_client(credential, workspace))


@contextmanager
def azure_errors(what: str) -> Iterator[None]:
    """Turn the SDK's exceptions into one WorkshopError that says what to do."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    try:
        yield
    except WorkshopError:
        raise
    except ClientAuthenticationError as exc:  # includes CredentialUnavailableError
        raise WorkshopError(
            f"{what}: no usable Azure credentials ({first_line(exc)})",
            hint=NO_CREDENTIALS_HINT,
            exit_code=ExitCode.SERVICE_FAILED,
        ) from exc
    except ResourceNotFoundError as exc:
        raise WorkshopError(
            f"{what}: not found ({first_line(exc)})",
            hint="check the subscription, resource group and workspace names; a new environment "
            "needs `pulumi up` first",
            exit_code=ExitCode.SERVICE_FAILED,
        ) from exc
    except HttpResponseError as exc:
        if exc.status_code == 403:
            raise WorkshopError(
                f"{what}: permission denied ({first_line(exc)})",
                hint="ask for the 'AzureML Data Scientist' role on the workspace (Contributor on "
                "the resource group for deploy and preflight)",
                exit_code=ExitCode.SERVICE_FAILED,
            ) from exc
        raise WorkshopError(
            f"{what}: Azure answered {first_line(exc)}", exit_code=ExitCode.SERVICE_FAILED
        ) from exc
    except ServiceRequestError as exc:
        raise WorkshopError(
            f"{what}: could not reach Azure ({first_line(exc)})",
            hint="check the network connection and proxy settings",
            exit_code=ExitCode.SERVICE_FAILED,
        ) from exc
