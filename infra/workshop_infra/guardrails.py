"""Cost guardrails: the tags every taggable resource carries and the stack's clock they come from.

`expires-on` must not churn: a value computed from `now()` on every `pulumi up` would change every
tag on every run. So the stack clock (a dynamic resource) records the time of the first deployment
in the state once, and `expires-on` is that time plus `ttlDays` (or the fixed `expiresOn` date);
later runs read it back. Changing ttlDays or expiresOn updates it; the first-deployed time stays.

Tags are added by a Pulumi transformation on the environment component, which its children
inherit: every resource whose arguments have `tags` gets them, so a resource added later cannot
be forgotten. (A transformation runs in the SDK, so it works under Pulumi's mocks and may add
Output values; the newer `transforms` run in the engine and the mock monitor skips them.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ResourceProvider, UpdateResult

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def expiry(created_at: str, ttl_days: int, fixed: str | None) -> str:
    """`expires-on`: the fixed date when configured, else first deployment + ttlDays."""
    if fixed:
        return fixed
    created = dt.datetime.strptime(created_at, TIME_FORMAT)
    return (created + dt.timedelta(days=ttl_days)).strftime(TIME_FORMAT)


class StackClockProvider(ResourceProvider):
    """Create records now (UTC); update keeps it and recomputes the expiry."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        now = dt.datetime.now(dt.UTC).strftime(TIME_FORMAT)
        outs = {**props, "created_at": now}
        outs["expires_on"] = expiry(now, int(props["ttl_days"]), props.get("fixed_expires_on"))
        return CreateResult("stack-clock", outs=outs)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        keys = ("ttl_days", "fixed_expires_on")
        return DiffResult(changes=any(_olds.get(k) != _news.get(k) for k in keys), replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        created = _olds["created_at"]
        outs = {**_news, "created_at": created}
        outs["expires_on"] = expiry(created, int(_news["ttl_days"]), _news.get("fixed_expires_on"))
        return UpdateResult(outs=outs)


class StackClock(pulumi.dynamic.Resource):
    """When the stack was first deployed, and when it expires."""

    created_at: pulumi.Output[str]
    expires_on: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        ttl_days: int,
        fixed_expires_on: str | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "ttl_days": ttl_days,
            "fixed_expires_on": fixed_expires_on,
            "created_at": None,
            "expires_on": None,
        }
        super().__init__(StackClockProvider(), resource_name, props, opts)


def tagging(tags: dict[str, pulumi.Input[str]]) -> pulumi.ResourceTransformation:
    """A transformation adding `tags` to every resource whose arguments accept tags."""

    def add_tags(
        args: pulumi.ResourceTransformationArgs,
    ) -> pulumi.ResourceTransformationResult | None:
        if "tags" not in args.props:
            return None
        own = args.props.get("tags")
        if own is not None and not isinstance(own, Mapping):
            return None  # tags given as an Output: left alone (nothing in this program does that)
        merged = {**tags, **(own or {})}
        return pulumi.ResourceTransformationResult({**args.props, "tags": merged}, args.opts)

    return add_tags
