"""Drills: exit-plan (and, later, tabletop) rehearsals run against a `Target`."""
