"""Offline planning: the real stack program run under Pulumi's mocks, and parity across stacks."""
