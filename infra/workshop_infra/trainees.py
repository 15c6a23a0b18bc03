"""Who attends: trainee entries from stack config, and the names derived from each one.

Config carries display names (any script, Japanese included) and Entra object ids. Azure names
cannot hold most of those characters, so every per-trainee name is built from an ASCII slug of the
display name (for people reading the portal) plus a short hash of the object id (for uniqueness and
stability): renaming a trainee's display name changes the readable part only when the slug changes,
and two trainees never share a name because object ids are unique.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass

from workshop_infra.errors import ConfigError

GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
TRAINEE_PRINCIPAL_TYPES = ("User", "ServicePrincipal", "Group")
MAX_TRAINEES = 200
MAX_DISPLAY_NAME = 128

COMPUTE_INSTANCE_RULE = re.compile(r"[a-zA-Z](?:[a-zA-Z0-9]|-(?=[a-zA-Z0-9-]*[a-zA-Z]))*")
"""Compute instance names: 3-24 letters, digits and hyphens, starting with a letter, and every
hyphen followed later by a letter. They must also be unique across all workspaces in a region,
which is why the stack's random suffix is part of every name."""
COMPUTE_INSTANCE_LENGTH = (3, 24)

_SLUG_LENGTH = 8
_HASH_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class Trainee:
    """One trainee (or the trainee group): display name, Entra object id, principal type."""

    name: str
    object_id: str
    principal_type: str = "User"

    @property
    def key(self) -> str:
        """Stable, filesystem- and Pulumi-safe id: `<slug>-<hash>` or `<hash>`."""
        slug = ascii_slug(self.name)
        return f"{slug}-{object_hash(self.object_id)}" if slug else object_hash(self.object_id)


def ascii_slug(text: str, limit: int = _SLUG_LENGTH) -> str:
    """Lowercase ASCII letters and digits of `text` (accents folded, other scripts dropped)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())[:limit]


def object_hash(object_id: str) -> str:
    """Five characters from the object id: a letter, then letters or digits."""
    digest = int.from_bytes(hashlib.sha256(object_id.lower().encode()).digest()[:8], "big")
    first = _HASH_ALPHABET[digest % 26]
    digest //= 26
    rest = ""
    for _ in range(4):
        rest += _HASH_ALPHABET[digest % 36]
        digest //= 36
    return first + rest


def compute_instance_name(suffix: str, trainee: Trainee) -> str:
    """`ci<suffix>-<slug>-<hash>`: at most 23 characters, valid for any display name.

    The hash starts with a letter, so every hyphen is followed by one (an Azure rule).
    """
    slug = ascii_slug(trainee.name)
    middle = f"{slug}-" if slug else ""
    return f"ci{suffix}-{middle}{object_hash(trainee.object_id)}"


def is_valid_compute_instance_name(name: str) -> bool:
    low, high = COMPUTE_INSTANCE_LENGTH
    return low <= len(name) <= high and COMPUTE_INSTANCE_RULE.fullmatch(name) is not None


def check_object_id(key: str, value: object) -> str:
    if not isinstance(value, str) or not GUID.fullmatch(value.strip()):
        raise ConfigError(
            key,
            value,
            "must be an Entra object id (a GUID such as 0b6c1c54-8e1a-4f0e-9a3e-2f1d6f3c9a10)",
            fix="az ad user show --id someone@example.com --query id -o tsv "
            "(a group: az ad group show --group NAME --query id -o tsv)",
        )
    return value.strip().lower()


def parse_trainees(key: str, raw: str) -> tuple[Trainee, ...]:
    """Trainees from the config value: a JSON array of {name, objectId, principalType?}."""
    example = '[{"name": "Hanako Yamada", "objectId": "<guid>"}]'
    try:
        entries = json.loads(raw) if raw.strip() else []
    except json.JSONDecodeError as exc:
        raise ConfigError(
            key,
            raw,
            f"must be a list of trainees ({exc.msg})",
            fix=f"pulumi config set --path '{key}[0].name' NAME and "
            f"'{key}[0].objectId' GUID, or set it to {example}",
        ) from None
    if not isinstance(entries, list):
        raise ConfigError(key, raw, f"must be a list, e.g. {example}")
    if len(entries) > MAX_TRAINEES:
        raise ConfigError(
            key,
            f"{len(entries)} entries",
            f"at most {MAX_TRAINEES} trainees per stack",
            fix="use traineeGroupObjectId for a larger audience, or split the workshop",
        )
    trainees: list[Trainee] = []
    seen_ids: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"{key}[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError(where, entry, f"must be an object like {example[1:-1]}")
        unknown = set(entry) - {"name", "objectId", "principalType"}
        if unknown:
            raise ConfigError(
                f"{where}.{sorted(unknown)[0]}",
                entry[sorted(unknown)[0]],
                "is not a trainee field (name, objectId, principalType)",
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{where}.name", name, "must be the trainee's display name (not empty)"
            )
        if len(name) > MAX_DISPLAY_NAME or any(ord(c) < 32 for c in name):
            raise ConfigError(
                f"{where}.name",
                name,
                f"must be 1-{MAX_DISPLAY_NAME} printable characters",
            )
        object_id = check_object_id(f"{where}.objectId", entry.get("objectId"))
        principal_type = entry.get("principalType", "User")
        if principal_type not in TRAINEE_PRINCIPAL_TYPES:
            raise ConfigError(
                f"{where}.principalType",
                principal_type,
                f"must be one of {', '.join(TRAINEE_PRINCIPAL_TYPES)}",
            )
        if object_id in seen_ids:
            raise ConfigError(
                f"{where}.objectId",
                object_id,
                f"is listed twice (also {key}[{seen_ids[object_id]}])",
                fix="remove the duplicate entry",
            )
        folded = name.strip().casefold()
        if folded in seen_names:
            raise ConfigError(
                f"{where}.name",
                name,
                f"is listed twice (also {key}[{seen_names[folded]}]); handouts are named by it",
                fix="add something that tells the two apart, e.g. a team or an initial",
            )
        seen_ids[object_id] = seen_names[folded] = index
        trainees.append(Trainee(name.strip(), object_id, principal_type))
    keys = [t.key for t in trainees]
    if len(set(keys)) != len(keys):  # a 5-character hash clash: astronomically rare, never silent
        clash = next(k for k in keys if keys.count(k) > 1)
        raise ConfigError(key, clash, "two trainees derive the same resource key", fix="rename one")
    return tuple(trainees)
