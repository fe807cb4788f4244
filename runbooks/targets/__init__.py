"""Targets: what drills and chaos experiments act on. `target.py` holds the `Target` protocol,
its capabilities as data and `target_for`; `sandbox_setup.py` starts the sandbox for a project
(the sandbox's own `SandboxTarget` lives in `sandbox/target.py`); `live/` builds the target of
deployed stacks from their outputs, with one folder per router cloud."""
