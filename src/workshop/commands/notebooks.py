"""`workshop notebooks upload`: put the hands-on notebooks where trainees find them in Studio."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from workshop import json_report
from workshop.commands.cloud import ConfigFile, ResourceGroup, Stack, Subscription, WorkspaceName
from workshop.json_report import JsonFlag

notebooks_app = typer.Typer(
    help="The hands-on notebooks (notebooks/*.ipynb) in the workspace's Studio file share.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(notebooks_app, name="notebooks", rich_help_panel="Azure")


@notebooks_app.command()
def upload(
    stack: Stack = None,
    subscription: Subscription = None,
    resource_group: ResourceGroup = None,
    workspace: WorkspaceName = None,
    config: ConfigFile = None,
    folder: Annotated[
        str, typer.Option("--folder", help="Folder on the notebook share (shown in Studio).")
    ] = "Users/shared/aml-workshop",
    as_json: JsonFlag = False,
) -> None:
    """Copy notebooks/, jobs/ and src/ into the workspace's notebook share (Studio > Notebooks).

    Signs in with DefaultAzureCredential (the share's storage account has shared keys off); you
    need the 'Storage File Data Privileged Contributor' role on that account. Rerun after editing
    the notebooks: files are replaced, trainees' own copies under Users/<them>/ are not touched.
    """
    from workshop.azure.session import azure_errors
    from workshop.commands.cloud import _session
    from workshop.notebook_upload import bundle_files, check_folder, find_share, share_client
    from workshop.notebook_upload import upload as upload_files

    console = Console()
    folder = check_folder(folder)
    files = bundle_files()
    session = _session(stack, subscription, resource_group, workspace, config)
    with azure_errors("finding the workspace's notebook share"):
        target = find_share(session.ml)
    console.print(f"share [bold]{target.share_name}[/] on {target.account_url}", highlight=False)
    share = share_client(target, session.credential)
    with azure_errors("uploading the notebooks"):
        written = upload_files(share, files, folder, progress=lambda p: console.print(f"  {p}"))
    notebooks = [p for p in written if p.endswith(".ipynb")]
    json_report.record(
        share=target.share_name,
        account_url=target.account_url,
        folder=folder,
        files=written,
        notebooks=notebooks,
    )
    console.print(
        f"[green]{len(written)} files[/] in {folder}/ ({len(notebooks)} notebooks): in Studio, "
        f"Notebooks > {folder}/ (trainees clone it into their own folder, then open "
        "notebooks/01-explore-and-train-locally.ipynb)",
        highlight=False,
        soft_wrap=True,
    )
