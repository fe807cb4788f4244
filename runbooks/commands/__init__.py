"""The `exitplan` subcommands, one module per command group; `runbooks.cli` assembles them."""
