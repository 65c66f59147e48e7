"""abstraction: see ../shared/design.md (layers)."""
