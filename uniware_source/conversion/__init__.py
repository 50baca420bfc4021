"""A downloaded export CSV into typed Arrow batches and a Parquet file: column names, Arrow types."""
