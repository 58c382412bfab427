"""``python -m patchwire``: the same as the ``patchwire`` command."""

from patchwire.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
