"""The live dashboard (``pitstop serve``): ``data.py`` reads S3, ``server.py`` serves it."""
