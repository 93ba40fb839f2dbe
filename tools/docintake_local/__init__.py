"""The one-machine stack: embedded PostgreSQL, moto for S3 and SQS, and pollers that run the real handlers."""
