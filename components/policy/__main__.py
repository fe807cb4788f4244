"""Entry point the Pulumi engine runs for `pulumi up --policy-pack components/policy`.

The engine starts the pack with this folder as the working directory and its own virtualenv, so
the repository root goes on sys.path first: the rules import `components.catalog` from there.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from pulumi_policy import PolicyPack

from components.policy.pack import POLICIES

PolicyPack(name="exitplan", policies=POLICIES)
