"""A stack's AWS store credentials as the live target revokes and restores them.

- `irsa` (the shipped stacks): the pods hold STS sessions of an IAM role, with no key. Revoking
  is what the IAM console's "Revoke active sessions" does: an inline policy on the role that
  denies everything to sessions issued before now (`aws:TokenIssueTime`); sessions issued
  later are not affected. Restoring removes that policy (exitplan's own, never another).
  Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
  (checked 2026-11-30).
- `iam-user` (a user that still reads its store with an access key, kept in Secrets Manager):
  revoking deactivates then deletes that one key (the one the vault holds, never another key of
  the user) and checks that STS refuses it; rotating creates a new key, checks that STS accepts
  it (IAM is eventually consistent), puts it in the vault, and only then deletes the old key.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.catalog.clouds import facts
from components.outputs import IdentityOutput
from runbooks.errors import LiveTargetError

IRSA = facts("aws").identity_kind
IAM_USER = "iam-user"
# The inline policy exitplan puts on a role (the console's own is AWSRevokeOlderSessions: a
# name of our own means a rollback never lifts a revocation someone made by hand).
REVOKE_POLICY = "exitplan-revoke-older-sessions"
VERIFY_TIMEOUT_S = 60.0
VERIFY_POLL_S = 2.0
# What STS answers for a key that does not exist (deleted) or is not valid.
REFUSED = ("InvalidClientTokenId", "InvalidAccessKeyId", "AccessDenied")


def vault_secret(stack: str) -> str:
    """The Secrets Manager secret holding an `iam-user` stack's key (the sandbox's layout)."""
    return f"exitplan/{stack}/store"


def revoke_policy(issued_before: dt.datetime) -> dict[str, Any]:
    """Deny every action to sessions of the role issued before `issued_before` (UTC)."""
    stamp = issued_before.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": stamp}},
        },
    }


def _call(what: str, call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise LiveTargetError(f"{what} failed: {exc}") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _last(arn_or_name: str) -> str:
    """The name at the end of an IAM ARN (`arn:aws:iam::1:role/path/name` -> `name`)."""
    return arn_or_name.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class RoleSessions:
    """An IRSA role's sessions: revoked by a deny policy, restored by removing it."""

    kind = IRSA

    def __init__(self, stack: str, role_arn: str, session: Any) -> None:
        """`session`: a boto3 Session (its IAM client is made on first use)."""
        self.stack, self.role_arn, self.session = stack, role_arn, session
        self.role = _last(role_arn)

    @cached_property
    def iam(self) -> Any:
        """The IAM client."""
        return self.session.client("iam")

    def revoke(self) -> dict[str, Any]:
        """Put the deny policy for sessions issued before now on the role."""
        now = dt.datetime.now(dt.UTC)
        policy = revoke_policy(now)
        _call(f"revoking the sessions of role {self.role}", self.iam.put_role_policy,
              RoleName=self.role, PolicyName=REVOKE_POLICY,
              PolicyDocument=json.dumps(policy))  # fmt: skip
        issued = policy["Statement"]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        return {"role": self.role_arn, "policy": REVOKE_POLICY, "sessions_issued_before": issued}

    def _revoked(self) -> bool:
        names = _call(f"listing the inline policies of role {self.role}",
                      self.iam.list_role_policies, RoleName=self.role)["PolicyNames"]  # fmt: skip
        return REVOKE_POLICY in names

    def rotate(self) -> dict[str, Any]:
        """End the revocation: remove exitplan's deny policy (the sessions the pods hold read
        the store again; a role has no key to replace, STS issues its sessions)."""
        if self._revoked():
            _call(f"removing {REVOKE_POLICY} from role {self.role}", self.iam.delete_role_policy,
                  RoleName=self.role, PolicyName=REVOKE_POLICY)  # fmt: skip
            return {"role": self.role_arn, "removed": REVOKE_POLICY}
        return {"role": self.role_arn, "removed": None}

    def state(self) -> dict[str, str]:
        """`revoked` while exitplan's deny policy is on the role, else `active`."""
        return {"status": "revoked" if self._revoked() else "active", "role": self.role_arn}

    @property
    def redeploy_gap(self) -> str:
        """Why no redeploy follows a restore (and why the live target cannot do one)."""
        return (
            f"stack {self.stack} reads its store as {IRSA} ({self.role_arn}): removing the "
            "deny policy (rotate_credentials) lets the sessions its pods hold read again, so no "
            "redeploy is needed; a live redeploy is `pulumi up` or a rollout restart, not "
            "automated here"
        )


class UserKey:
    """An IAM user's access key that one stack reads its store with, kept in Secrets Manager."""

    kind = IAM_USER

    def __init__(
        self,
        stack: str,
        user: str,
        session: Any,
        *,
        timeout_s: float = VERIFY_TIMEOUT_S,
        poll_s: float = VERIFY_POLL_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`session`: a boto3 Session (IAM, Secrets Manager, and STS with a given key; the
        clients are made on first use)."""
        self.stack, self.user, self.session = stack, _last(user), session
        self.secret = vault_secret(stack)
        self.timeout_s, self.poll_s, self.sleep = timeout_s, poll_s, sleep

    @property
    def region(self) -> str:
        """The session's region (Secrets Manager and STS are regional), else us-east-1."""
        return getattr(self.session, "region_name", None) or "us-east-1"

    @cached_property
    def iam(self) -> Any:
        """The IAM client."""
        return self.session.client("iam")

    @cached_property
    def vault(self) -> Any:
        """The Secrets Manager client."""
        return self.session.client("secretsmanager", region_name=self.region)

    def _vaulted(self) -> dict[str, str]:
        answer = _call(f"reading {self.secret} from Secrets Manager",
                       self.vault.get_secret_value, SecretId=self.secret)  # fmt: skip
        data = json.loads(answer["SecretString"])
        if "aws_access_key_id" not in data or "aws_secret_access_key" not in data:
            raise LiveTargetError(
                f"{self.secret} holds no AWS key",
                fix="store {aws_access_key_id, aws_secret_access_key} of the stack's user there",
            )
        return {str(k): str(v) for k, v in data.items()}

    def _keys(self) -> dict[str, str]:
        """Key id -> status (Active/Inactive) of the user's keys."""
        listed = _call(f"listing the keys of {self.user}", self.iam.list_access_keys,
                       UserName=self.user)["AccessKeyMetadata"]  # fmt: skip
        return {str(k["AccessKeyId"]): str(k["Status"]) for k in listed}

    def _sts_accepts(self, key_id: str, secret: str) -> bool:
        """Whether STS accepts the key as this user's (False when it refuses it)."""
        sts = self.session.client("sts", region_name=self.region, aws_access_key_id=key_id,
                                  aws_secret_access_key=secret)  # fmt: skip
        try:
            arn = str(sts.get_caller_identity()["Arn"])
        except ClientError as exc:
            if _code(exc) in REFUSED:
                return False
            raise LiveTargetError(f"checking key {key_id} with STS failed: {exc}") from exc
        except BotoCoreError as exc:
            raise LiveTargetError(f"checking key {key_id} with STS failed: {exc}") from exc
        return _last(arn) == self.user

    def _until(self, accepted: bool, key_id: str, secret: str) -> None:
        """Wait until STS accepts (or refuses) the key; refuse after `timeout_s`."""
        deadline = time.monotonic() + self.timeout_s
        while self._sts_accepts(key_id, secret) != accepted:
            if time.monotonic() >= deadline:
                raise LiveTargetError(
                    f"STS still {'refuses' if accepted else 'accepts'} key {key_id} of "
                    f"{self.user} after {self.timeout_s:g} s",
                    fix="check the key in the IAM console (is it the stack's? is it active?)",
                )
            self.sleep(self.poll_s)

    def revoke(self) -> dict[str, Any]:
        """Deactivate, then delete, the key the vault holds (only that key of the user), and
        wait until STS refuses it. The vault keeps the dead key until a rotation."""
        vaulted = self._vaulted()
        key_id = vaulted["aws_access_key_id"]
        if key_id in self._keys():
            _call(f"deactivating key {key_id} of {self.user}", self.iam.update_access_key,
                  UserName=self.user, AccessKeyId=key_id, Status="Inactive")  # fmt: skip
            _call(f"deleting key {key_id} of {self.user}", self.iam.delete_access_key,
                  UserName=self.user, AccessKeyId=key_id)  # fmt: skip
        self._until(False, key_id, vaulted["aws_secret_access_key"])
        return {"user": self.user, "key_id": key_id}

    def rotate(self) -> dict[str, Any]:
        """A new key, checked with STS, into the vault; then the vault's old key deleted (only
        that one). A user whose two key slots hold another key as well is refused."""
        old = self._vaulted()["aws_access_key_id"]
        others = sorted(k for k in self._keys() if k != old)
        if others and old in self._keys():
            raise LiveTargetError(
                f"{self.user} already has two keys ({old}, the stack's, and {others[0]}): IAM "
                "allows two, and the live target touches only the stack's key",
                fix=f"delete {others[0]} yourself if it is unused, then rotate again",
            )
        created = _call(f"creating a key for {self.user}", self.iam.create_access_key,
                        UserName=self.user)["AccessKey"]  # fmt: skip
        key_id, secret = str(created["AccessKeyId"]), str(created["SecretAccessKey"])
        try:
            self._until(True, key_id, secret)
        except LiveTargetError:
            _call(f"deleting the unusable key {key_id}", self.iam.delete_access_key,
                  UserName=self.user, AccessKeyId=key_id)  # fmt: skip
            raise
        value = json.dumps({"aws_access_key_id": key_id, "aws_secret_access_key": secret})
        _call(f"putting the new key in {self.secret}", self.vault.put_secret_value,
              SecretId=self.secret, SecretString=value)  # fmt: skip
        if old in self._keys():
            _call(f"deleting the old key {old} of {self.user}", self.iam.delete_access_key,
                  UserName=self.user, AccessKeyId=old)  # fmt: skip
        return {"user": self.user, "key_id": key_id, "deleted": old}

    def state(self) -> dict[str, str]:
        """The vault's key id, `active` while IAM holds it active, else `revoked`."""
        key_id = self._vaulted()["aws_access_key_id"]
        active = self._keys().get(key_id) == "Active"
        return {"key_id": key_id, "status": "active" if active else "revoked"}

    @property
    def redeploy_gap(self) -> str:
        """Why the live target does not redeploy the stack with its new key."""
        return (
            f"stack {self.stack}'s pods read the key from {self.secret} when they start: a "
            "live redeploy is `pulumi up` or a rollout restart of the Triton deployment, not "
            "automated here"
        )


def credentials(
    stack: str, identity: IdentityOutput, *, session: Any | None = None
) -> RoleSessions | UserKey | None:
    """The credentials of a stack whose identity is AWS's (`irsa` role or `iam-user` key), or
    None for another cloud's. `session`: a boto3 Session (default: the default chain)."""
    if identity.kind not in (IRSA, IAM_USER):
        return None
    if session is None:
        import boto3

        session = boto3.Session()
    if identity.kind == IRSA:
        return RoleSessions(stack, identity.principal, session)
    return UserKey(stack, identity.principal, session)
