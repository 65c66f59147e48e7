"""automata: see ../shared/design.md (layers)."""
