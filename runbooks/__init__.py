"""Runbooks: the exitplan CLI and the drills it runs."""
