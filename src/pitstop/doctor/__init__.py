"""``pitstop doctor``: is this instance ready to train? (checks in ``checks.py``)."""
