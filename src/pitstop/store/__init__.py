"""The S3 side of pitstop: key layout, object-store port, jobs, leases and events.

``layout`` is the only code that knows key names. ``objects`` is the port (and its boto3
adapter) every other module goes through; nothing else imports boto3 for S3.
"""
