"""Rehearsals without a target: the service inventory and its exit readiness (`inventory.py`,
`readiness.py`), tabletop war-room exercises, and the provider-incident runbook rendered from
the stacks (`runbook.py`)."""
