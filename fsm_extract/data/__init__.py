"""data: see ../shared/design.md (layers)."""
