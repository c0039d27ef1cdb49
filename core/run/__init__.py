"""A plan run end to end: the runner, the S3 import, sweeps, scale-out, the run's environment."""
