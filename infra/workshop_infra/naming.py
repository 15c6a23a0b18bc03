"""Azure resource names derived from the workshop prefix and the stack's random suffix.

Globally unique names (storage account, key vault, container registry) and the ones a soft delete
blocks (workspace) carry a per-stack suffix drawn by pulumi-random with a per-stack seed, so
parallel CI stacks never collide and a destroy-then-recreate gets the same names back. The suffix
is only known at deployment time, so the prefix is
checked statically: `check_prefix` builds every name with a stand-in suffix of the same length and
alphabet, which is sound because no name rule treats one lowercase letter or digit differently from
another in the suffix's position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields

from workshop_common.contract import (
    CLUSTER_NAME,
    CONFIG_PREFIX,
    KEY_VAULT_NAME_START,
    PROJECT,
)
from workshop_infra.errors import ConfigError

SUFFIX_LENGTH = 6
"""Length of the per-stack suffix (a seeded pulumi-random RandomShuffle of SUFFIX_ALPHABET)."""

SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

_STAND_IN_SUFFIX = "a0" * (SUFFIX_LENGTH // 2)

CONTAINER_NAME = "workshop"
"""The blob container the workshop data lives in."""

DATASTORE = "workshop_data"
"""The credential-less datastore on that container (Azure ML: lowercase letters, digits, _)."""

MNIST_BLOB_FOLDER = "mnist"
"""Folder in the container holding the four MNIST files; the data asset points at it."""


@dataclass(frozen=True)
class NameRule:
    """An Azure naming rule: a full-match pattern and the words a user reads when it fails."""

    pattern: str
    text: str

    def accepts(self, name: str) -> bool:
        return re.fullmatch(self.pattern, name) is not None


RULES: dict[str, NameRule] = {
    "resource_group": NameRule(
        r"[-\w.()]{0,89}[-\w()]", "1-90 letters, digits, _ - . ( ), not ending in '.'"
    ),
    "storage_account": NameRule(r"[a-z0-9]{3,24}", "3-24 lowercase letters and digits"),
    "key_vault": NameRule(
        r"(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]",
        "3-24 letters, digits and hyphens, starting with a letter, ending with a letter or "
        "digit, no '--'",
    ),
    "log_analytics": NameRule(
        r"[a-zA-Z0-9][a-zA-Z0-9-]{2,61}[a-zA-Z0-9]",
        "4-63 letters, digits and hyphens, starting and ending with a letter or digit",
    ),
    "app_insights": NameRule(r"[^%&\\?/]{1,260}", "1-260 characters, none of % & \\ ? /"),
    "container_registry": NameRule(r"[a-zA-Z0-9]{5,50}", "5-50 letters and digits"),
    "cluster_identity": NameRule(
        r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}",
        "3-128 letters, digits, '-' and '_', starting with a letter or digit",
    ),
    "workspace": NameRule(
        r"[a-zA-Z0-9][a-zA-Z0-9_-]{2,32}",
        "3-33 letters, digits, '_' and '-', starting with a letter or digit",
    ),
    "compute": NameRule(
        r"[a-zA-Z](?:[a-zA-Z0-9-]{0,14}[a-zA-Z0-9])?",
        "2-16 letters, digits and hyphens, starting with a letter",
    ),
}

PREFIX_RULE = NameRule(
    r"[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]",
    "lowercase letters, digits and single hyphens, starting with a letter and ending with a "
    "letter or digit",
)


@dataclass(frozen=True)
class WorkshopNames:
    """Every Azure name the program creates; fields match the keys of `RULES`."""

    resource_group: str
    storage_account: str
    key_vault: str
    log_analytics: str
    app_insights: str
    container_registry: str
    cluster_identity: str
    workspace: str
    compute: str

    def problems(self) -> list[str]:
        """Names an Azure rule rejects, as readable lines (empty when all are valid)."""
        out = []
        for field in fields(self):
            name = getattr(self, field.name)
            rule = RULES[field.name]
            if not rule.accepts(name):
                out.append(f"{field.name} name {name!r} breaks the rule: {rule.text}")
        return out


def _alnum(prefix: str) -> str:
    return prefix.replace("-", "")


_TEMPLATES: dict[str, Callable[[str, str], str]] = {
    "resource_group": lambda p, s: f"{p}-{s}-rg",
    "storage_account": lambda p, s: f"{_alnum(p)}st{s}",
    # workshop preflight finds earlier stacks' soft-deleted vaults by this start.
    "key_vault": lambda p, s: KEY_VAULT_NAME_START.format(prefix=p) + s,
    "log_analytics": lambda p, s: f"{p}-log-{s}",
    "app_insights": lambda p, s: f"{p}-appi-{s}",
    "container_registry": lambda p, s: f"{_alnum(p)}cr{s}",
    "cluster_identity": lambda p, s: f"{p}-cluster-id-{s}",
    "workspace": lambda p, s: f"{p}-mlw-{s}",
    "compute": lambda p, s: CLUSTER_NAME,
}


def derive_names(prefix: str, suffix: str) -> WorkshopNames:
    """The names for one stack; raises if Azure would reject one (a bug: prefixes are checked)."""
    names = WorkshopNames(**{key: build(prefix, suffix) for key, build in _TEMPLATES.items()})
    problems = names.problems()
    if problems:
        raise ValueError(f"derived names break Azure rules: {'; '.join(problems)}")
    return names


def _max_prefix_length() -> int:
    """The longest prefix (worst case: no hyphens to drop) for which every derived name fits."""
    length = 1
    while not WorkshopNames(
        **{k: b("a" * (length + 1), _STAND_IN_SUFFIX) for k, b in _TEMPLATES.items()}
    ).problems():
        length += 1
    return length


MIN_PREFIX_LENGTH = 2
MAX_PREFIX_LENGTH = _max_prefix_length()


def check_prefix(prefix: str, key: str = f"{PROJECT}:{CONFIG_PREFIX}") -> None:
    """Raise ConfigError unless every name derived from `prefix` is valid for any suffix."""
    if not MIN_PREFIX_LENGTH <= len(prefix) <= MAX_PREFIX_LENGTH:
        raise ConfigError(
            key,
            prefix,
            f"must be {MIN_PREFIX_LENGTH}-{MAX_PREFIX_LENGTH} characters (the storage account "
            f"and key vault names add {SUFFIX_LENGTH} random characters and must stay within 24)",
            fix="choose a shorter prefix, e.g. 'mnistws'",
        )
    if not PREFIX_RULE.accepts(prefix):
        raise ConfigError(key, prefix, f"must use {PREFIX_RULE.text}", fix="e.g. 'mnist-ws'")
    problems = WorkshopNames(
        **{k: b(prefix, _STAND_IN_SUFFIX) for k, b in _TEMPLATES.items()}
    ).problems()
    if problems:
        raise ConfigError(key, prefix, "; ".join(problems))
