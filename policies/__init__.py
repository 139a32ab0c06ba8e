"""The CrossGuard policy pack (`__main__.py`, run by the Pulumi CLI) and its offline checker (`check.py`)."""
