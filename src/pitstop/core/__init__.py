"""The core: every decision pitstop makes, and the vocabulary it makes them in.

States, job ids, records (spec, status, attempts), times, event names and the lifecycle.
Nothing here does I/O or imports any other part of pitstop but ``pitstop.errors``: the
supervisor, the simulator, the CLI and the tests all drive the same pure functions.
"""
