"""The workshop environment on Azure: read the settings, build it, export what trainees need.

Everything is in `workshop_infra`; see Pulumi.yaml for the settings and README.md for the path.
Evaluating it reads the settings and jobs/ only: the MNIST upload is declared from the published
MD5s and reads the data cache only when it runs.
"""

import pulumi
from mnist_trainer.published import PUBLISHED
from workshop_infra.blob_upload import missing_files
from workshop_infra.components.environment import WorkshopEnvironment
from workshop_infra.job_specs import read_job_specs
from workshop_infra.settings import settings_from_stack

from workshop_common.contract import CONFIG_LOCATION
from workshop_common.paths import JOBS_DIR, data_cache

settings = settings_from_stack()
if not settings.region_is_known:
    pulumi.log.warn(f"{CONFIG_LOCATION} {settings.location!r} is not a region I know")
if pulumi.runtime.is_dry_run():
    cache = data_cache()
    missing = missing_files((f.name for f in PUBLISHED), cache)
    if missing:
        pulumi.log.warn(
            f"{cache} lacks {', '.join(missing)}: an up that creates or changes the MNIST upload "
            "fetches them first (`workshop data fetch`)"
        )
environment = WorkshopEnvironment("workshop", settings, read_job_specs(JOBS_DIR))
for key, value in environment.exports().items():
    pulumi.export(key, value)
