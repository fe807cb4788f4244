"""The exitplan CrossGuard policy pack (`pulumi up --policy-pack components/policy`).

The rule modules import only `pulumi_policy`, the standard library and the SDK-free catalog, as
a policy pack runs in its own environment under a real engine; `offline.py` runs the same rules
over offline plans for `exitplan policy check`.
"""
