"""Several console and reconciler processes on one PostgreSQL ledger."""
