"""Operator services behind the admin API and the CLI: both call these, so both behave the same."""
