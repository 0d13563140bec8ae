"""Ready-made augcli recipes, shipped inside the wheel as ``augcli.configs``."""
