"""Type tokens of the components, namespaced by the package, and the alias that keeps deployed stacks intact.

Stacks deployed before the namespace registered every component as `app:components:<Name>`. The alias on the
component makes the engine match it, and every child under it (parent aliases are multiplied into the
children's), to the old URNs: no replacement (tests/components/test_urn_stability.py).
"""

from __future__ import annotations

import pulumi

PACKAGE = "secure-serverless"
LEGACY_PREFIX = "app:components"


def component_type(name: str) -> str:
    return f"{PACKAGE}:components:{name}"


def with_legacy_alias(name: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(
        opts or pulumi.ResourceOptions(), pulumi.ResourceOptions(aliases=[pulumi.Alias(type_=f"{LEGACY_PREFIX}:{name}")])
    )
