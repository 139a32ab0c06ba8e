"""How much an ARN pattern covers: one named resource (and objects under it), or many.

The resource-name position is read off policy_sentry's ARN formats for the service, so `table/T/index/*` is
one table, `role/service-role/*` is many roles, `log-group:/aws/lambda/fn:*` is one log group and
`arn:aws:s3:::*` is every bucket.
"""

from __future__ import annotations

import re
from functools import cache

from policy_sentry.querying.all import get_all_service_prefixes
from policy_sentry.querying.arns import get_raw_arns_for_service

_WILDCARD = re.compile(r"[*?]")
_SERVICES = frozenset(get_all_service_prefixes())


def has_wildcard(text: str) -> bool:
    return bool(_WILDCARD.search(text))


@cache
def _type_prefixes(service: str, regional: bool, in_account: bool) -> dict[str, bool]:
    """Literal resource types that open the service's ARN formats (`log-group`, `role`, `table`), each with
    whether the name after it may contain '/': after a ':' (`log-group:${LogGroupName}`) or when the format
    names a path (`role/${RoleNameWithPath}`); otherwise '/' ends the name (`table/${TableName}/index/...`).

    Formats are only compared with ARNs of the same shape: an S3 bucket ARN (no region, no account) is
    never read as an access point's `accesspoint/...`.
    """
    if service not in _SERVICES:
        return {}
    try:
        raw_arns = get_raw_arns_for_service(service)
    except KeyError:  # a service with actions but no resource types
        return {}
    prefixes: dict[str, bool] = {}
    for raw in raw_arns:
        parts = raw.split(":", 5)
        if len(parts) < 6 or parts[2] != service or bool(parts[3]) != regional or bool(parts[4]) != in_account:
            continue
        match = re.match(r"([^:/$]+)([:/])(\$\{[^}]*\})?", parts[5].lstrip("/"))
        if not match:
            continue
        type_name, separator, variable = match.groups()
        slashes = separator == ":" or (variable or "").endswith("WithPath}")
        prefixes[type_name.lower()] = prefixes.get(type_name.lower(), False) or slashes
    return prefixes


def resource_name(service: str, region: str, account: str, resource: str) -> str:
    """The part of an ARN's resource that names the resource (what a wildcard must not replace)."""
    text = resource.lstrip("/")
    match = re.match(r"([^:/]*)[:/](.*)", text)
    if not match:
        return text
    first, rest = match.groups()
    types = _type_prefixes(service.lower(), bool(region), bool(account))
    if first.lower() not in types:
        return first
    # Names never contain ':' (what follows is a qualifier: a log stream, an alias, a version).
    return re.split(r":" if types[first.lower()] else r"[:/]", rest, maxsplit=1)[0]


def breadth(pattern: str) -> str | None:
    """Why `pattern` may match more than one named resource, or None when it names one."""
    if pattern == "*":
        return '"*" is every resource'
    parts = pattern.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return f"{pattern} is a wildcard, not an ARN" if has_wildcard(pattern) else None
    _, partition, service, region, account, resource = parts
    for label, value in (("partition", partition), ("service", service), ("region", region), ("account", account)):
        if has_wildcard(value):
            return f"{pattern} has a wildcard in its {label}"
    name = resource_name(service, region, account, resource)
    if not name or has_wildcard(name):
        return f"{pattern} has a wildcard where the resource name goes"
    return None
