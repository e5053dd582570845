"""S3-compatible object storage for attachments, through boto3 (AWS S3, MinIO, Ceph, R2…).

boto3 is synchronous; each call runs in a worker thread so the event loop is
never blocked. The client is built once and shared (boto3 clients are
thread-safe). Objects are written with server-side encryption requested
(``AES256``), since they can be identity documents.
"""
from __future__ import annotations

import asyncio
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from attachments.config import AttachmentSettings
from attachments.files import FileMissing, check_key


class S3FileStore:
    """Files as objects in one bucket, under ``S3_PREFIX``."""

    name = "s3"

    def __init__(self, settings: AttachmentSettings, *, client: Any | None = None) -> None:
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix
        self._client = client or boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id, aws_secret_access_key=settings.s3_secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """One PutObject (files are at most ``ATTACHMENTS_MAX_BYTES``; no multipart upload needed)."""
        await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data,
                                ContentType=content_type, ServerSideEncryption="AES256")

    async def get(self, key: str) -> bytes:
        """The object's bytes; ``FileMissing`` for NoSuchKey."""
        def read() -> bytes:
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    raise FileMissing(key) from None
                raise
            return bytes(answer["Body"].read())

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        """DeleteObject (S3 answers success for a missing key too)."""
        await asyncio.to_thread(self._client.delete_object, Bucket=self.bucket, Key=self._key(key))
