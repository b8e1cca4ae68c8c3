"""The demo: synthetic profiles and events through the local stack, a story with a known truth, a report."""
