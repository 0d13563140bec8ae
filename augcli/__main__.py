"""``python -m augcli`` runs the command line."""

from augcli.cli import main

main()
