"""The tags the CI workflows and the TTL sweeper rely on are the ones the program really sets."""

from __future__ import annotations

from infra_harness import deploy

from workshop_common import contract


def test_the_program_sets_the_tags_the_sweeper_keys_on() -> None:
    graph = deploy({})
    group = next(r for r in graph.custom if r.type == "azure-native:resources:ResourceGroup")
    tags = group.inputs["tags"]
    for name in (contract.TAG_PROJECT, contract.TAG_OWNER, contract.TAG_EXPIRES):
        assert name in tags, name
    assert tags[contract.TAG_STACK] == "test"  # the stack's own name
