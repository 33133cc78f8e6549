"""One module per subcommand; see :mod:`derive.cli` for the contract."""
