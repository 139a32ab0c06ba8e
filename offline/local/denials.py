"""Who IAM refused: each request that moto's IAM enforcement denies, reported with the role of its credentials.

An observer, not a patch of behaviour: moto answers exactly as before. The runtime counts the denials per role
(`role:<name>.iam_denied` in `/__local/stats`), so a test sees the moment a principal's call is refused instead
of waiting for a flow to time out (the least-privilege matrix, tests/local/test_least_privilege.py).
Contract test: tests/local/test_denials.py (moto is pinned exactly, requirements-dev.txt).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (principal, action, resource): principal is the role name for assumed-role credentials, else the caller's ARN.
Observer = Callable[[str, str, str], None]

_OBSERVERS: list[Observer] = []


def principal_of(arn: str) -> str:
    """`arn:aws:sts::<account>:assumed-role/<role>/<session>` -> `<role>`; any other ARN unchanged."""
    resource = arn.split(":", 5)[-1]
    if resource.startswith("assumed-role/"):
        return resource.split("/")[1]
    return arn


def observe(observer: Observer) -> None:
    """Call `observer(principal, action, resource)` for every request IAM denies from now on (in this process)."""
    from moto.iam.access_control import IAMRequestBase

    if not getattr(IAMRequestBase.check_action_permitted, "_observed", False):
        original = IAMRequestBase.check_action_permitted

        def check_action_permitted(self: Any, resource: str) -> None:
            try:
                original(self, resource)
            except Exception:
                # Only refusals leave check_action_permitted with an exception (bad signatures fail before it).
                principal = principal_of(getattr(self._access_key, "arn", "") or "")
                for notify in list(_OBSERVERS):
                    notify(principal, str(self._action), resource)
                raise

        check_action_permitted._observed = True  # type: ignore[attr-defined]
        IAMRequestBase.check_action_permitted = check_action_permitted
    _OBSERVERS.append(observer)
