"""The canonical plan-and-budget model: the hub's common language. Pure: no I/O."""
