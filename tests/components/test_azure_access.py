"""Review B2/J4: under `pulumi up`, the AKS kubeconfig resolves only once the deployer's data-plane
role works on the cluster (a SelfSubjectAccessReview signed by the kubeconfig's own credential
plugin says `allowed`), so the first Kubernetes object is not refused while Azure RBAC
propagates; offline plans and previews do not wait."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from components.errors import DeployWaitError
from components.providers.azure import access, cluster
from components.providers.azure.access import REVIEW_PATH, Answer, can_create_namespaces

TOKEN = "t0ken"
# The credential plugin: prints an ExecCredential whose token comes from its env, as
# kubelogin's is given by the kubeconfig's exec section.
PLUGIN = (
    "import json, os; print(json.dumps({'kind': 'ExecCredential', "
    "'status': {'token': os.environ['EXITPLAN_TEST_TOKEN']}}))"
)


def kubeconfig(server: str) -> str:
    return json.dumps(
        {
            "clusters": [{"name": "aks", "cluster": {"server": server}}],
            "users": [
                {
                    "name": "deployer",
                    "user": {
                        "exec": {
                            "command": sys.executable,
                            "args": ["-c", PLUGIN],
                            "env": [{"name": "EXITPLAN_TEST_TOKEN", "value": TOKEN}],
                        }
                    },
                }
            ],
        }
    )


class FakeApiServer(HTTPServer):
    """Answers SelfSubjectAccessReviews from a script of (HTTP status, allowed) pairs."""

    def __init__(self, script: list[tuple[int, bool]]) -> None:
        super().__init__(("127.0.0.1", 0), ReviewHandler)
        self.script = script
        self.seen: list[dict[str, Any]] = []


class ReviewHandler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append(
            {"path": self.path, "auth": self.headers["Authorization"], "body": body}
        )
        code, allowed = self.server.script.pop(0)
        payload = json.dumps({"status": {"allowed": allowed}}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer([(403, False), (201, False), (201, True)])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_review_signed_by_the_plugin_answers_403_then_not_yet_then_allowed(
    api: FakeApiServer,
) -> None:
    config = kubeconfig(f"http://127.0.0.1:{api.server_address[1]}")
    answers = [can_create_namespaces(config) for _ in range(3)]
    assert [a.allowed for a in answers] == [False, False, True]
    assert "HTTP 403" in answers[0].reason
    assert api.seen[0]["path"] == REVIEW_PATH
    assert api.seen[0]["auth"] == f"Bearer {TOKEN}"
    assert api.seen[0]["body"]["spec"]["resourceAttributes"] == {
        "verb": "create",
        "resource": "namespaces",
    }


def test_wait_polls_until_the_role_works(api: FakeApiServer) -> None:
    config = kubeconfig(f"http://127.0.0.1:{api.server_address[1]}")
    slept: list[float] = []
    assert access.wait_for_access(config, sleep=slept.append) == config
    assert slept == [access.POLL_S, access.POLL_S] and api.script == []


def test_wait_gives_up_with_the_last_answer() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(DeployWaitError) as gave_up:
        access.wait_for_access(
            "{}",
            ask=lambda _config: Answer(False, "HTTP 403 from the API server"),
            sleep=sleep,
            clock=lambda: now[0],
            timeout_s=60,
        )
    assert "HTTP 403" in str(gave_up.value) and "pulumi up" in str(gave_up.value)
    assert now[0] == 60 and gave_up.value.exit_code == 1


def test_a_missing_plugin_is_named() -> None:
    with pytest.raises(DeployWaitError, match="kubelogin"):
        access.exec_token({"command": "/nonexistent/kubelogin", "args": []})


def test_only_a_real_update_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[str] = []
    monkeypatch.setattr(cluster, "wait_for_access", lambda config: waited.append(config) or config)
    monkeypatch.setattr(cluster, "running_under_mocks", lambda: True)
    assert cluster._granted("plan") == "plan" and waited == []
    monkeypatch.setattr(cluster, "running_under_mocks", lambda: False)
    monkeypatch.setattr(cluster.pulumi.runtime, "is_dry_run", lambda: True)
    assert cluster._granted("preview") == "preview" and waited == []
    monkeypatch.setattr(cluster.pulumi.runtime, "is_dry_run", lambda: False)
    assert cluster._granted("update") == "update" and waited == ["update"]
