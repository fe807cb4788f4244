"""Reports: the drill journal (`journal.py`), the shared page and SVG kit (`kit.py`), and the
drill and chaos reports rendered from journals (`drill.py`, `chaos.py`)."""
