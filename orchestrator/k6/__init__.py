"""The k6 binary (find, version, features, inspect), its summary and its log."""
