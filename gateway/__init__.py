"""HTTP ingestion gateway."""
