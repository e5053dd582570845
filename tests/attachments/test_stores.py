"""The type check, the signed links, and the two file stores behind one interface.

The S3 store runs the real boto3 client against moto's S3 server on a free
loopback port (no network, no AWS account).
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from attachments import signing
from attachments.checks import sniff
from attachments.config import AttachmentSettings
from attachments.files import FileMissing, FileStore, LocalFileStore, new_key
from attachments.runtime import UploadRefused, build_attachments, build_file_store
from attachments.s3 import S3FileStore
from tests.attachments import samples


@pytest.mark.parametrize(("data", "expected"), [
    (samples.png(), "image/png"), (samples.jpeg_like(), "image/jpeg"), (samples.webp_like(), "image/webp"),
    (samples.pdf(), "application/pdf"), (samples.GIF, None), (samples.HTML, None), (b"", None),
    (b"RIFF\x00\x00\x00\x00WAVE", None),
])
def test_type_is_decided_by_the_first_bytes(data: bytes, expected: str | None) -> None:
    assert sniff(data) == expected


def test_signed_links_expire_and_cannot_be_altered() -> None:
    path = signing.signed_path("s" * 32, 7, ttl_seconds=60, now=1000.0)
    _, _, ident, expires, sig = path.split("/")
    assert ident == "7" and int(expires) == 1060
    assert signing.valid("s" * 32, 7, 1060, sig, now=1059.0)
    assert not signing.valid("s" * 32, 7, 1060, sig, now=1061.0)  # expired
    assert not signing.valid("s" * 32, 8, 1060, sig, now=1000.0)  # another file
    assert not signing.valid("s" * 32, 7, 9999, sig, now=1000.0)  # longer life
    assert not signing.valid("t" * 32, 7, 1060, sig, now=1000.0)  # another deployment


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s3_settings(endpoint: str, bucket: str) -> AttachmentSettings:
    return AttachmentSettings(_env_file=None, attachments_storage="s3", s3_endpoint_url=endpoint, s3_bucket=bucket,
                              s3_region="us-east-1", s3_access_key_id="test", s3_secret_access_key="test")


def make_bucket(endpoint: str, bucket: str) -> None:
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                 aws_secret_access_key="test").create_bucket(Bucket=bucket)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> FileStore:
    if request.param == "local":
        return build_file_store(AttachmentSettings(_env_file=None, attachments_dir=tmp_path / "files"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"aduan-{tmp_path.name.lower().replace('_', '-')[-40:]}"
    make_bucket(endpoint, bucket)
    return build_file_store(s3_settings(endpoint, bucket))


async def test_each_store_keeps_returns_and_deletes_bytes(store: FileStore) -> None:
    key = new_key("image/png", datetime(2026, 11, 30, tzinfo=timezone.utc))
    assert key.startswith("2026/11/") and key.endswith(".png")
    with pytest.raises(FileMissing):
        await store.get(key)
    await store.put(key, samples.png(), "image/png")
    assert await store.get(key) == samples.png()
    await store.delete(key)
    with pytest.raises(FileMissing):
        await store.get(key)
    await store.delete(key)  # a missing key is not an error


@pytest.mark.parametrize("key", ["../etc/passwd", "2026/11/../../x.png", "/abs.png", "2026/11/ABC.png"])
async def test_keys_not_made_by_the_desk_are_refused(store: FileStore, key: str) -> None:
    with pytest.raises(ValueError):
        await store.put(key, b"x", "image/png")


def test_settings_pick_the_backend(tmp_path: Path, s3_endpoint: str) -> None:
    assert isinstance(build_file_store(AttachmentSettings(_env_file=None, attachments_dir=tmp_path)), LocalFileStore)
    assert isinstance(build_file_store(s3_settings(s3_endpoint, "b")), S3FileStore)


async def test_s3_objects_are_written_with_type_and_server_side_encryption(s3_endpoint: str) -> None:
    make_bucket(s3_endpoint, "enc-check")
    store = S3FileStore(s3_settings(s3_endpoint, "enc-check"))
    key = new_key("application/pdf", datetime(2026, 11, 30, tzinfo=timezone.utc))
    await store.put(key, samples.pdf(), "application/pdf")
    head = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test").head_object(Bucket="enc-check", Key="attachments/" + key)
    assert head["ContentType"] == "application/pdf"
    assert head["ServerSideEncryption"] == "AES256"


async def test_uploads_are_checked_before_they_are_stored(tmp_path: Path, database: object) -> None:
    runtime = build_attachments(database, public_base_url="https://desk.example.test",  # type: ignore[arg-type]
                                link_secret="x" * 32,
                                settings=AttachmentSettings(_env_file=None, attachments_dir=tmp_path / "f",
                                                            attachments_max_bytes=4096))
    stored = await runtime.store_upload(samples.png())
    assert stored.content_type == "image/png" and await runtime.files.get(stored.key) == samples.png()
    with pytest.raises(UploadRefused) as too_big:
        await runtime.store_upload(samples.jpeg_like(5000))
    assert too_big.value.status == 413
    with pytest.raises(UploadRefused) as wrong:
        await runtime.store_upload(samples.HTML)
    assert wrong.value.status == 415
    assert sorted(p.name for p in (tmp_path / "f").rglob("*") if p.is_file()) == [Path(stored.key).name]
