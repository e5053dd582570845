"""How long one file takes from provider to store: Twilio media (basic auth, redirect) fetched by
``TwilioMediaSource``, checked, and put in the local store and in S3 (moto's server), 5 runs each.

    .venv/bin/python -m bench.attachments_fetch [SIZE_MB]
"""
from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from attachments.checks import sniff
from attachments.config import AttachmentSettings
from attachments.files import FileStore, LocalFileStore, new_key
from attachments.s3 import S3FileStore
from connectors.whatsapp import TwilioMediaSource
from desk.config import Settings
from tests.fakes import FakeTwilio

RUNS = 5


async def one(source: TwilioMediaSource, url: str, store: FileStore, limit: int) -> float:
    start = time.perf_counter()
    fetched = await source.fetch(url, max_bytes=limit)
    content_type = sniff(fetched.data)
    assert content_type == "image/jpeg"
    await store.put(new_key(content_type, datetime.now(timezone.utc)), fetched.data, content_type)
    return (time.perf_counter() - start) * 1000


async def main(size_mb: float) -> None:
    data = b"\xff\xd8\xff\xe0" + b"\x00" * int(size_mb * 1024 * 1024 - 4)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k",
                 aws_secret_access_key="s").create_bucket(Bucket="bench")
    with FakeTwilio(auth_token="bench-token") as twilio, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, twilio_api_base=twilio.base_url, twilio_auth_token="bench-token")
        source = TwilioMediaSource(settings)
        url = twilio.add_media(settings.twilio_account_sid, data, "image/jpeg")
        stores: dict[str, FileStore] = {
            "local": LocalFileStore(Path(tmp)),
            "s3 (moto)": S3FileStore(AttachmentSettings(
                _env_file=None, s3_endpoint_url=endpoint, s3_bucket="bench", s3_region="us-east-1",
                s3_access_key_id="k", s3_secret_access_key="s")),
        }
        print(f"| store | file | runs | median ms | min–max ms |\n| --- | --- | --- | --- | --- |")
        for name, store in stores.items():
            times = [await one(source, url, store, 11 * 1024 * 1024) for _ in range(RUNS)]
            print(f"| {name} | {size_mb:g} MB JPEG | {RUNS} | {statistics.median(times):.0f} | "
                  f"{min(times):.0f}–{max(times):.0f} |")
    moto.stop()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
