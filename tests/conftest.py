"""Shared test fixtures live in tests/helpers.py and tests/fixtures_s3.py."""
