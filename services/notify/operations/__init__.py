"""The notify business rules. Operations take a session and plain values; callers commit."""
