"""The wire contract (package actgrid.v1): messages and stubs generated from proto/ at build time."""
