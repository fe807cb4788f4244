"""Runbooks: the exitplan CLI and the jobs it runs, one folder each: commands/ (the CLI's
command groups), targets/ (the Target protocol, the sandbox and live targets), load/ (the
open-loop load generator), drills/ (the exit-plan drill), chaos_run/ (Chaos Toolkit runs with
measurements) and reports/ (journals and their Markdown/HTML reports)."""
