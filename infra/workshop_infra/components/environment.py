"""`WorkshopEnvironment`: everything a trainee needs, composed from the smaller components."""

from __future__ import annotations

import json

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, resources

from workshop_common import contract
from workshop_infra.components.access import TraineeAccess
from workshop_infra.components.assets import Assets
from workshop_infra.components.budget import Budget
from workshop_infra.components.compute import Compute
from workshop_infra.components.monitoring import Monitoring
from workshop_infra.components.scope import TYPE_PREFIX, Scope
from workshop_infra.components.storage import Storage
from workshop_infra.components.workspace import Workspace
from workshop_infra.guardrails import StackClock, tagging
from workshop_infra.job_specs import JobSpecs
from workshop_infra.naming import SUFFIX_ALPHABET, SUFFIX_LENGTH, derive_names
from workshop_infra.settings import Settings


class WorkshopEnvironment(pulumi.ComponentResource):
    """Resource group, storage, monitoring, workspace, compute and the registered assets."""

    scope: Scope
    storage: Storage
    monitoring: Monitoring
    workspace: Workspace
    compute: Compute
    assets: Assets
    access: TraineeAccess
    budget: Budget | None
    clock: StackClock
    studio_url: pulumi.Output[str]
    sdk_config: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        settings: Settings,
        specs: JobSpecs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(f"{TYPE_PREFIX}:WorkshopEnvironment", name, None, opts)
        self._specs = specs
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output()
        # A seeded pulumi-random shuffle: the same suffix for the same subscription, project,
        # stack and nameSuffixSeed, so `pulumi up` right after a destroy (which purges the
        # soft-deleted workspace and vault) recreates the same names, parallel stacks differ,
        # and a new nameSuffixSeed draws fresh names.
        suffix = random.RandomShuffle(
            "name-suffix",
            random.RandomShuffleArgs(
                inputs=list(SUFFIX_ALPHABET),
                result_count=SUFFIX_LENGTH,
                seed=pulumi.Output.concat(
                    client.subscription_id,
                    "/",
                    pulumi.get_project(),
                    "/",
                    pulumi.get_stack(),
                    "/",
                    settings.name_suffix_seed,
                ),
            ),
            opts=child,
        )
        suffix_text = suffix.results.apply("".join)
        names = suffix_text.apply(lambda text: derive_names(settings.prefix, text))
        self.clock = StackClock(
            "stack-clock",
            ttl_days=settings.ttl_days,
            fixed_expires_on=settings.expires_on,
            opts=child,
        )
        self.tags: dict[str, pulumi.Input[str]] = {
            contract.TAG_PROJECT: settings.prefix,
            contract.TAG_OWNER: settings.owner or client.object_id,
            contract.TAG_EXPIRES: self.clock.expires_on,
            contract.TAG_STACK: pulumi.get_stack(),  # the ttl-sweeper destroys the stack by it
        }
        # Every resource below (and in the components) inherits the tagging transformation.
        child = pulumi.ResourceOptions(parent=self, transformations=[tagging(self.tags)])
        if settings.existing_resource_group:
            existing = resources.get_resource_group_output(
                resource_group_name=settings.existing_resource_group
            )
            resource_group_name = existing.name
            resource_group_id = existing.id
        else:
            group = resources.ResourceGroup(
                "resource-group",
                resources.ResourceGroupArgs(
                    resource_group_name=names.apply(lambda n: n.resource_group),
                    location=settings.location,
                ),
                opts=child,
            )
            resource_group_name = group.name
            resource_group_id = group.id
        self.scope = Scope(
            settings=settings,
            names=names,
            resource_group_name=resource_group_name,
            subscription_id=client.subscription_id,
            tenant_id=client.tenant_id,
            deployer_object_id=client.object_id,
        )
        self.storage = Storage("storage", self.scope, child)
        self.monitoring = Monitoring("monitoring", self.scope, child)
        self.workspace = Workspace("workspace", self.scope, self.storage, self.monitoring, child)
        # From the purge, not the workspace: what lives in the workspace is deleted before it.
        workspace_name = self.workspace.purge.workspace_name
        self.compute = Compute(
            "compute",
            self.scope,
            self.storage,
            workspace_name=workspace_name,
            registry_id=self.workspace.registry.id if self.workspace.registry else None,
            opts=child,
        )
        self.assets = Assets("assets", self.scope, self.storage, workspace_name, specs, child)
        self.access = TraineeAccess(
            "trainees",
            self.scope,
            self.storage,
            workspace_id=self.workspace.purge.id,
            workspace_guid=self.workspace.workspace.workspace_id,
            workspace_name=workspace_name,
            suffix=suffix_text,
            opts=child,
        )
        self.budget = None
        if settings.budget_amount:
            self.budget = Budget(
                "budget", self.scope, resource_group_id=resource_group_id, opts=child
            )

        self.studio_url = pulumi.Output.concat(
            "https://ml.azure.com/?wsid=/subscriptions/",
            client.subscription_id,
            "/resourceGroups/",
            resource_group_name,
            "/providers/Microsoft.MachineLearningServices/workspaces/",
            workspace_name,
            "&tid=",
            client.tenant_id,
        )
        self.sdk_config = pulumi.Output.all(
            client.subscription_id, resource_group_name, workspace_name
        ).apply(
            lambda v: json.dumps(dict(zip(contract.CONFIG_JSON_KEYS, v, strict=True)), indent=2)
        )
        self.register_outputs({"studio_url": self.studio_url, "config_json": self.sdk_config})

    def exports(self) -> dict[str, pulumi.Input[object]]:
        """The stack outputs (what a platform engineer hands to trainees).

        Their names are the contract's (workshop_common.contract): the CLI reads them back.
        """
        specs = self._specs
        return {
            contract.SUBSCRIPTION_ID: self.scope.subscription_id,
            contract.RESOURCE_GROUP: self.scope.resource_group_name,
            contract.LOCATION: self.scope.location,
            contract.WORKSPACE_NAME: self.workspace.workspace.name,
            contract.STUDIO_URL: self.studio_url,
            contract.COMPUTE_NAME: self.compute.cluster.name,
            contract.DATASTORE_NAME: self.assets.datastore.name,
            contract.DATA_ASSET: self.assets.data_version.id.apply(
                lambda _: f"azureml:{specs.data.name}:{specs.data.version}"
            ),
            contract.ENVIRONMENT: self.assets.environment_version.id.apply(
                lambda _: f"azureml:{specs.environment.name}:{specs.environment.version}"
            ),
            contract.CONFIG_JSON: self.sdk_config,
            contract.TRAINEES: self._trainee_handouts(),
            contract.EXPIRES_ON: self.clock.expires_on,
            contract.KEY_VAULT_NAME: self.workspace.key_vault.name,
        }

    def _trainee_handouts(self) -> pulumi.Output[list[dict[str, object]]]:
        """Per trainee: what `workshop handout` writes into their folder (names, no secrets)."""
        instances = {key: c.name for key, c in self.access.instances.items()}
        keys = list(instances)

        def entries(args: list[object]) -> list[dict[str, object]]:
            studio_url, config, cluster, *names = args
            by_key = dict(zip(keys, names, strict=True))
            return [
                {
                    contract.TRAINEE_KEY: trainee.key,
                    contract.TRAINEE_NAME: trainee.name,
                    contract.TRAINEE_PRINCIPAL_TYPE: trainee.principal_type,
                    contract.STUDIO_URL: studio_url,
                    contract.CONFIG_JSON: config,
                    contract.COMPUTE_NAME: cluster,
                    contract.TRAINEE_COMPUTE_INSTANCE: by_key.get(trainee.key),
                }
                for trainee in self.scope.settings.principals
            ]

        return pulumi.Output.all(
            self.studio_url, self.sdk_config, self.compute.cluster.name, *instances.values()
        ).apply(entries)
