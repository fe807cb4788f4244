"""Serving: crash, restart, freeze and thaw a stack's Triton."""
