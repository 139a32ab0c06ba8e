"""Helpers shared by every Lambda handler: packaged into each function's archive next to its module."""
