"""How much ``pitstop serve`` takes on at once (light: ``pitstop --help`` imports it)."""

DEFAULT_WORKERS = 16  # requests served at once, a thread each
MAX_WORKERS = 256
QUEUE_PER_WORKER = 4  # accepted connections that may wait for a worker, per worker
DEFAULT_READ_TIMEOUT_S = 10.0  # a request must arrive whole within this of connecting
MAX_READ_TIMEOUT_S = 600.0
