"""Launching training: one interface (``base.Trainer``), three backends.

- ``simulated``: a real child process writing the DRfC layout to S3 (demo, tests, benchmarks);
- ``script``: a run script fetched from the configured bucket, run under bash;
- ``drfc``: a real deepracer-for-cloud checkout.
"""
