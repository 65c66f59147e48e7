"""analysis: see ../shared/design.md (layers)."""
