"""The workshop environment on Azure: read the settings, build it, export what trainees need.

Everything is in `workshop_infra`; see Pulumi.yaml for the settings and README.md for the path.
"""

import pulumi
from workshop_infra.components.environment import WorkshopEnvironment
from workshop_infra.job_specs import read_job_specs
from workshop_infra.local_data import local_mnist
from workshop_infra.settings import settings_from_stack

from workshop.paths import JOBS_DIR, data_cache

settings = settings_from_stack()
if not settings.region_is_known:
    pulumi.log.warn(f"azure-native:location {settings.location!r} is not a region I know")
environment = WorkshopEnvironment(
    "workshop",
    settings,
    read_job_specs(JOBS_DIR),
    local_mnist(data_cache()),
)
for key, value in environment.exports().items():
    pulumi.export(key, value)
