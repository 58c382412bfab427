"""The ``patchwire`` command line."""
