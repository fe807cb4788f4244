"""`exitplan chaos run`: the runner (`runner.py`: an experiment through chaostoolkit-lib with
the load running), the measurements it adds to the journal (`measurements.py`) and the watch of
the router's view of each stack (`rotation_watch.py`)."""
