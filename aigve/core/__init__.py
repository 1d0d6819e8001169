"""The core every room may import: validation, provenance, statistics, errors. Imports nothing above it."""
