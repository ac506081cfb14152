"""Test support shared across apps: real servers the tests start themselves."""
