"""Reading Azure ML CLI v2 specs: one place below both `workshop validate` and `workshop run`."""
