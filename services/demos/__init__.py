"""`make demo` (`demo`) and `make web` (`web_demo`): vrs on a sample catalog, on this machine."""
