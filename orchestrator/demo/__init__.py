"""The reference backend perfctl load-tests in its demo and end-to-end tests."""
