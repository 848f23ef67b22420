"""Ways in to a ``MachineDescription``: TOML files, real boot logs, this host."""
