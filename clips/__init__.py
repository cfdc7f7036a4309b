"""clips package."""
