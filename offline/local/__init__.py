"""The local runtime behind `make dev`: a stack's own resource graph served over HTTP on moto (issue 12)."""
