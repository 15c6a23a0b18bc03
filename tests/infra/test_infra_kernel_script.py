"""Every trainee compute instance gets the kernel creation script, inline, as Azure documents it.

https://learn.microsoft.com/en-us/azure/machine-learning/how-to-customize-compute-instance:
`setupScripts.scripts.creationScript` with `scriptSource: inline` takes the script base64-encoded
in `scriptData`; `timeout` replaces the 15-minute default. tests/test_workshop_kernel.py runs
that very script and checks the kernel it builds.
"""

from __future__ import annotations

import base64
import json

from infra_harness import deploy

from workshop_common import kernel

COMPUTE = "azure-native:machinelearningservices:Compute"
TRAINEES = [
    {"name": "山田 花子", "objectId": "0b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10"},
    {"name": "Bot", "objectId": "1b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10", "principalType": "Group"},
]


def test_each_compute_instance_runs_the_kernel_script_when_created() -> None:
    values = {"trainees": json.dumps(TRAINEES), "traineeComputeInstances": "true"}
    graph = deploy(values)
    instances = [r for r in graph.of_type(COMPUTE) if r.name.startswith("instance-")]
    assert len(instances) == 1  # the group gets none
    inner = instances[0].inputs["properties"]["properties"]
    creation = inner["setupScripts"]["scripts"]["creationScript"]
    assert set(inner["setupScripts"]["scripts"]) == {"creationScript"}  # not at every start
    assert creation["scriptSource"] == "inline"
    assert creation["timeout"] == kernel.SCRIPT_TIMEOUT
    script = base64.b64decode(creation["scriptData"]).decode("utf-8")
    assert script == kernel.creation_script()
    assert script.startswith("#!/bin/bash\n") and f"{kernel.KERNEL_NAME}" in script
    cluster = next(r for r in graph.of_type(COMPUTE) if r.name == "cluster")
    assert "setupScripts" not in cluster.inputs["properties"].get("properties", {})
