"""``python -m model``: see model/cli.py."""

from model.cli import main

main()
