"""The `kit` command line: parse arguments, make one library call, map KitError to an exit code."""
