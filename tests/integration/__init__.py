"""Tests against real servers (dynalite, DynamoDB Local, LocalStack, moto, Dask)."""
