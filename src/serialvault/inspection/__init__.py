"""The inspection pack: the quality records of a period in one signed package."""
