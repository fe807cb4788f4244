"""The live target's AWS adapter: Route 53 weighted records, as
`components/providers/aws/dns.py` declares them, as its router (`route53.py`), and a stack's
IRSA role or IAM-user key as its store credentials (`iam.py`)."""

from runbooks.targets.live.aws.iam import RoleSessions, UserKey, credentials
from runbooks.targets.live.aws.route53 import Route53Router, router

__all__ = ["RoleSessions", "Route53Router", "UserKey", "credentials", "router"]
