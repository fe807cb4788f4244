"""The live target's router on AWS: Route 53 weighted records, as
`components/providers/aws/dns.py` declares them (`route53.py`)."""

from runbooks.targets.live.aws.route53 import Route53Router, router

__all__ = ["Route53Router", "router"]
