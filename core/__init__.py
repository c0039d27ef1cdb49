"""The DynamoDB write-concurrency lab: seeded books, targets, writers, benchmark and charts."""

__version__ = "0.1.0"
