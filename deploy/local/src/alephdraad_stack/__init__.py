"""The Alephdraad local stack: one launcher for `make run`, the e2e tests and every test suite."""
