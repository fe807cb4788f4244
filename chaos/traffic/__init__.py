"""Traffic: the front door's weights and what clients see through it."""
