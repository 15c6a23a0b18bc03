"""Names: any prefix yields names Azure accepts for every resource, or a clear config error.

The rules below are written out again from Azure's documentation on purpose: they check the
program's own rule table rather than reuse it.
"""

from __future__ import annotations

import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from workshop_infra.errors import ConfigError
from workshop_infra.naming import MAX_PREFIX_LENGTH, SUFFIX_LENGTH, check_prefix, derive_names
from workshop_infra.roles import assignment_name

AZURE_RULES = {
    "resource_group": lambda n: (
        1 <= len(n) <= 90 and re.fullmatch(r"[\w.()-]+", n) and not n.endswith(".")
    ),
    "storage_account": lambda n: re.fullmatch(r"[a-z0-9]{3,24}", n),
    "key_vault": lambda n: (
        re.fullmatch(r"[A-Za-z0-9-]{3,24}", n) and n[0].isalpha() and n[-1] != "-" and "--" not in n
    ),
    "log_analytics": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9]", n),
    "app_insights": lambda n: 1 <= len(n) <= 260 and not set(n) & set("%&\\?/"),
    "container_registry": lambda n: re.fullmatch(r"[A-Za-z0-9]{5,50}", n),
    # Microsoft.ManagedIdentity/userAssignedIdentities
    "cluster_identity": lambda n: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,127}", n),
    "workspace": lambda n: re.fullmatch(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}$", n),
    "compute": lambda n: 2 <= len(n) <= 16 and re.fullmatch(r"[A-Za-z0-9-]+", n) and n[0].isalpha(),
}

suffixes = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=6, max_size=6)
# Mostly plausible prefixes (so many pass), plus arbitrary text (so many fail).
plausible = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
arbitrary = st.text(alphabet=string.printable + "äß", max_size=30)


@settings(max_examples=400, deadline=None)
@given(prefix=st.one_of(plausible, arbitrary), suffix=suffixes)
def test_every_prefix_gives_valid_names_or_a_clear_error(prefix: str, suffix: str) -> None:
    try:
        check_prefix(prefix)
    except ConfigError as exc:
        assert "aml-workshop:prefix" in str(exc)
        assert repr(prefix) in str(exc)
        return
    names = derive_names(prefix, suffix)
    for resource, accepts in AZURE_RULES.items():
        name = getattr(names, resource)
        assert accepts(name), f"{resource} name {name!r} from prefix {prefix!r}"
    assert suffix in names.storage_account and suffix in names.key_vault


@settings(max_examples=200, deadline=None)
@given(prefix=plausible)
def test_a_prefix_is_rejected_only_when_some_name_would_break(prefix: str) -> None:
    """No over-rejection: a refused prefix really produces a bad name, or breaks the prefix rule."""
    try:
        check_prefix(prefix)
    except ConfigError:
        broken_prefix_rule = (
            not re.fullmatch(r"[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]", prefix)
            or len(prefix) > MAX_PREFIX_LENGTH
        )
        assert broken_prefix_rule, prefix


def test_max_prefix_length_is_tight() -> None:
    longest = "a" * MAX_PREFIX_LENGTH
    check_prefix(longest)
    names = derive_names(longest, "9" * SUFFIX_LENGTH)
    assert max(len(names.key_vault), len(names.storage_account)) == 24
    try:
        check_prefix(longest + "a")
    except ConfigError as exc:
        assert f"2-{MAX_PREFIX_LENGTH} characters" in str(exc)
    else:
        raise AssertionError("a prefix one character longer must be refused")


def test_role_assignment_names_are_stable_guids_unique_per_grant() -> None:
    scope = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a"
    first = assignment_name(scope, "p1", "Storage Blob Data Contributor")
    assert first == assignment_name(scope.upper(), "p1", "Storage Blob Data Contributor")
    uuid5 = r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(uuid5, first)
    others = {
        assignment_name(scope, "p2", "Storage Blob Data Contributor"),
        assignment_name(scope, "p1", "Storage Blob Data Reader"),
        assignment_name(scope + "/x", "p1", "Storage Blob Data Contributor"),
    }
    assert first not in others and len(others) == 3
