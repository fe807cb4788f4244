"""`exitplan plan --format pulumi-preview`: a stack's plan written as `pulumi preview --json`
would print a first deploy of it (Pulumi's preview digest: `config`, one `create` step per
resource with its `newState`, the `changeSummary`), so `exitplan cost --preview` and any tool
that reads Pulumi previews take exitplan's plans as they take any program's.

URNs follow Pulumi's `urn:pulumi:<stack>::<project>::<parent types joined by $>$<type>::<name>`;
a provider reference is `<provider URN>::<id>`, the id unknown until deployed, as in a real
preview. Secret inputs are "[secret]", as the CLI writes them."""

from __future__ import annotations

from typing import Any

from components.planning.runner import Plan, PlannedResource
from runbooks.render import masked_inputs

STACK_TYPE = "pulumi:pulumi:Stack"
# The provider config key naming its default region, where it is not `region`.
REGION_KEY = {"azure-native": "location"}
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # Pulumi's unknown value in a preview


def preview_digest(plan: Plan, project: str, config: dict[str, str]) -> dict[str, Any]:
    """The plan as a first deploy's preview digest; `config` is the stack config it shows
    (`<package>:<key>` -> value)."""
    names = {r.name: r for r in plan.resources}
    root = f"urn:pulumi:{plan.stack}::{project}::{STACK_TYPE}::{project}-{plan.stack}"

    def urn(r: PlannedResource) -> str:
        chain = [r.type]
        parent = names.get(r.parent)
        while parent is not None:
            chain.insert(0, parent.type)
            parent = names.get(parent.parent)
        return f"urn:pulumi:{plan.stack}::{project}::{'$'.join(chain)}::{r.name}"

    steps = [_step(root, {"urn": root, "custom": False, "type": STACK_TYPE, "inputs": {}})]
    for r in plan.resources:
        provider = f"{urn(names[r.provider])}::{UNKNOWN}" if r.provider in names else ""
        own = urn(r)
        state: dict[str, Any] = {
            "urn": own,
            "custom": r.custom,
            "type": r.type,
            "inputs": masked_inputs(r),
            "parent": urn(names[r.parent]) if r.parent in names else root,
            "provider": provider,
            "dependencies": [urn(names[d]) for d in r.dependencies if d in names],
        }
        steps.append(_step(own, state, provider))
    return {"config": config, "steps": steps, "changeSummary": {"create": len(steps)}}


def region_config(package: str, region: str) -> dict[str, str]:
    """The stack config entry setting a Pulumi package's default region."""
    return {f"{package}:{REGION_KEY.get(package, 'region')}": region}


def _step(urn: str, state: dict[str, Any], provider: str = "") -> dict[str, Any]:
    return {"op": "create", "urn": urn, "provider": provider, "newState": state}
