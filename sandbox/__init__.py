"""The sandbox: real stand-ins for the clouds started on loopback (Triton servers, an HAProxy
front door, model stores, an AWS control plane): the embedded default target of drills."""
