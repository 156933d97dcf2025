"""The goodput simulator: replay spot availability traces against recovery policies.

``traces`` reads the public spot traces, ``engine`` runs one training job on one trace
under one policy (the ``pitstop`` policy drives ``core.lifecycle.step`` itself on a
simulated clock), ``plot`` draws availability, progress and cost over time. The CLI
(``pitstop simulate``) and ``benchmarks/goodput.py`` are the callers.
"""
