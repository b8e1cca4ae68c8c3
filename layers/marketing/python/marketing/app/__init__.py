"""Use cases: compose domain calls with ports. Batching lives here: one read per batch, one write per contact."""
