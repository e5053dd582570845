"""Custom NLU components (offline, no pretrained weights)."""
