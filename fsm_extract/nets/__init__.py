"""nets: see ../shared/design.md (layers)."""
