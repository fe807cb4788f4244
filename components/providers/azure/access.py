"""Wait, inside `pulumi up`, until the deployer's AKS data-plane role takes effect (review B2,
J4), instead of telling users to run `pulumi up` twice.

Azure RBAC for Kubernetes Authorization can take up to five minutes to apply a new role
assignment (learn.microsoft.com/azure/aks/manage-azure-rbac: "New role assignments can take up
to five minutes to propagate"), and pulumi-kubernetes retries a create only on NotFound/NoMatch
(provider/pkg/await/await.go), so the first Kubernetes object would fail with 403 Forbidden.
The kubeconfig handed to the Kubernetes provider therefore resolves only once the cluster
answers a SelfSubjectAccessReview (what `kubectl auth can-i create namespaces` sends; every
authenticated user may send one, Kubernetes' system:basic-user role) with `allowed`, signed
with the kubeconfig's own credential plugin (kubelogin on the Azure CLI session).
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from components.errors import DeployWaitError

TIMEOUT_S = 900  # three times Microsoft's five minutes
POLL_S = 10
REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
REVIEW = {
    "apiVersion": "authorization.k8s.io/v1",
    "kind": "SelfSubjectAccessReview",
    "spec": {"resourceAttributes": {"verb": "create", "resource": "namespaces"}},
}


@dataclass(frozen=True)
class Answer:
    """Whether the deployer may create namespaces yet, and why not."""

    allowed: bool
    reason: str = ""


def wait_for_access(
    kubeconfig: str,
    *,
    ask: Callable[[str], Answer] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout_s: float = TIMEOUT_S,
) -> str:
    """Return the kubeconfig once the cluster lets its user create namespaces; poll every
    `POLL_S` seconds, and raise `DeployWaitError` after `timeout_s` with the last answer."""
    asking = ask or can_create_namespaces
    deadline = clock() + timeout_s
    while True:
        answer = asking(kubeconfig)
        if answer.allowed:
            return kubeconfig
        if clock() >= deadline:
            raise DeployWaitError(
                f"the deployer's AKS RBAC Cluster Admin role did not take effect within "
                f"{timeout_s:.0f} s ({answer.reason}); Azure documents up to five minutes. Check "
                "that `az` is logged in as the principal the azure-native provider runs as "
                "(README: Azure: what a first `pulumi up` needs), then run `pulumi up` again"
            )
        sleep(POLL_S)


def can_create_namespaces(kubeconfig: str) -> Answer:
    """One SelfSubjectAccessReview against the kubeconfig's cluster, as its user."""
    config = yaml.safe_load(kubeconfig)
    cluster = config["clusters"][0]["cluster"]
    request = urllib.request.Request(
        cluster["server"].rstrip("/") + REVIEW_PATH,
        data=json.dumps(REVIEW).encode(),
        headers={
            "Authorization": f"Bearer {exec_token(config['users'][0]['user']['exec'])}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    context = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
        context = ssl.create_default_context(cadata=ca)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            status = json.loads(response.read()).get("status", {})
    except urllib.error.HTTPError as error:
        return Answer(False, f"HTTP {error.code} from the API server")
    except (urllib.error.URLError, OSError) as error:
        return Answer(False, f"API server unreachable: {error}")
    if status.get("allowed"):
        return Answer(True)
    return Answer(False, status.get("reason") or "not allowed yet")


def exec_token(spec: dict[str, Any]) -> str:
    """The bearer token the kubeconfig's exec credential plugin prints (an ExecCredential)."""
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    try:
        done = subprocess.run(
            [spec["command"], *(spec.get("args") or [])],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise DeployWaitError(
            f"the kubeconfig's credential plugin {spec['command']!r} failed: {error}; install "
            "kubelogin (`az aks install-cli`) and `az login` as the deploying principal"
        ) from error
    return str(json.loads(done.stdout)["status"]["token"])
