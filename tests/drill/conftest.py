"""Drill tests use the backup fixtures: keys and a real S3 endpoint on 127.0.0.1."""

from tests.backup.conftest import keys, s3_endpoint  # noqa: F401
