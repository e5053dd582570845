"""``aduan telegram-webhook``: register (or show, or delete) the Telegram webhook.

Telegram calls ``PUBLIC_BASE_URL/webhooks/telegram`` for every update and sends
``TELEGRAM_SECRET_TOKEN`` in ``X-Telegram-Bot-Api-Secret-Token``; the desk
refuses updates without it. Telegram only calls HTTPS URLs (ports 443, 80,
88 or 8443).
"""
from __future__ import annotations

import argparse
import asyncio
import sys

from telegram import Bot
from telegram.error import TelegramError

from connectors.telegram import PATH, api_base_url
from desk.config import Settings

ALLOWED_UPDATES = ["message", "callback_query"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``telegram-webhook`` to the ``aduan`` command line."""
    parser = sub.add_parser("telegram-webhook",
                            help="register the Telegram webhook at PUBLIC_BASE_URL/webhooks/telegram")
    parser.add_argument("--url", default=None, help="override the webhook URL (default: PUBLIC_BASE_URL/webhooks/telegram)")
    parser.add_argument("--drop-pending", action="store_true", help="discard updates Telegram queued meanwhile")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--info", action="store_true", help="show the current webhook, change nothing")
    group.add_argument("--delete", action="store_true", help="remove the webhook")
    parser.set_defaults(func=cmd_telegram_webhook)


def webhook_url(settings: Settings, override: str | None = None) -> str:
    """Where Telegram should post updates."""
    return override or settings.public_base_url.rstrip("/") + PATH


def cmd_telegram_webhook(args: argparse.Namespace) -> int:
    """Run the chosen webhook operation; exit code 0 on success."""
    return asyncio.run(_run(Settings(), args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    url = webhook_url(settings, args.url)
    if not (args.info or args.delete) and not url.startswith("https://"):
        print(f"Telegram only calls HTTPS webhooks; {url} is not one. Set PUBLIC_BASE_URL.", file=sys.stderr)
        return 2
    bot = Bot(settings.telegram_bot_token, base_url=api_base_url(settings))
    try:
        async with bot:
            if args.info:
                info = await bot.get_webhook_info()
                print(f"url={info.url or '-'} pending_updates={info.pending_update_count} "
                      f"last_error={info.last_error_message or '-'}")
                return 0
            if args.delete:
                await bot.delete_webhook(drop_pending_updates=args.drop_pending)
                print("webhook deleted")
                return 0
            await bot.set_webhook(url=url, secret_token=settings.telegram_secret_token,
                                  allowed_updates=ALLOWED_UPDATES, drop_pending_updates=args.drop_pending)
            print(f"webhook set: {url}")
            return 0
    except TelegramError as exc:
        print(f"Telegram refused: {exc}", file=sys.stderr)
        return 1
