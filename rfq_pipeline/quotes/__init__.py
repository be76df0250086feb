"""Quote drafting: catalog, line matching, deterministic pricing, guarded composition and the draft state machine."""
