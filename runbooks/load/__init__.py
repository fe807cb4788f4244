"""Load: the open-loop generator (`generator.py`) with its KServe v2 codec (`kserve.py`), the
generator in a worker process of its own (`worker.py`) and the background load drills and
experiments measure their windows with (`background.py`). Nothing here imports the sandbox or
a cloud SDK: chaos probes use it."""
