"""extraction: see ../shared/design.md (layers)."""
