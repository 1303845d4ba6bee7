"""Built-in task files (YAML only); installed as the ``harness.builtin_tasks`` package."""
