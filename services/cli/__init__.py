"""The `vrs` command line."""
