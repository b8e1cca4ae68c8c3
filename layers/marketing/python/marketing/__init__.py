"""Real-time event marketing for mobile operators: the domain package shipped in the Lambda layer."""
