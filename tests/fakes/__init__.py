"""Local fakes of the providers' HTTP APIs (Twilio, Telegram) for tests and benchmarks.

Each fake is a real HTTP server on 127.0.0.1 and a free port, running in a
daemon thread so sync and async code can both talk to it. It records every
request it received and can be told to fail the next N requests with a 5xx.

    with FakeTwilio() as twilio:
        settings = Settings(twilio_api_base=twilio.base_url, ...)
        ...
        twilio.wait_for_messages(1)
        assert twilio.messages[0].body == "..."
"""
from tests.fakes.http import FakeHTTPService, RecordedRequest
from tests.fakes.telegram import FakeTelegram, TelegramCall
from tests.fakes.twilio import FakeTwilio, TwilioMessage

__all__ = [
    "FakeHTTPService",
    "FakeTelegram",
    "FakeTwilio",
    "RecordedRequest",
    "TelegramCall",
    "TwilioMessage",
]
