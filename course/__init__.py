"""Calculus for machine learning: the course's build and grading tools."""
