"""Knobs of the attachments part, read from the environment (docs/channels.md, "Attachments")."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from desk.config import REPO_ROOT


class AttachmentSettings(BaseSettings):
    """ATTACHMENTS_STORAGE picks the file store; the S3_* settings configure the object store."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    attachments_storage: Literal["local", "s3"] = "local"
    attachments_dir: Path = REPO_ROOT / "var" / "attachments"
    # 10 MB: WhatsApp's own limit for images is 5 MB and for documents 100 MB; a proof of
    # payment or a KTP photo is far below this, and the console must stay quick.
    attachments_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    # How long a signed link to an agent's file stays valid (Twilio fetches it within seconds).
    attachments_url_ttl_seconds: int = Field(default=3600, gt=0)
    attachments_fetch_timeout_seconds: float = Field(default=30.0, gt=0)
    attachments_max_attempts: int = Field(default=3, ge=1)
    attachments_poll_seconds: float = Field(default=2.0, gt=0)

    s3_bucket: str = "aduan-attachments"
    s3_endpoint_url: str | None = None
    s3_region: str = "ap-southeast-3"  # Jakarta
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_prefix: str = "attachments/"
