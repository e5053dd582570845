"""Send a scripted conversation to a running bot (desk channel) and print replies.

    .venv/bin/python scripts/talk.py "halo" "mau komplain" "Budi Santoso" ...
"""
from __future__ import annotations

import argparse
import json
import urllib.request
import uuid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("messages", nargs="+")
    ap.add_argument("--url", default="http://127.0.0.1:5005/webhooks/desk/webhook")
    ap.add_argument("--channel", default="whatsapp")
    ap.add_argument("--customer-id", default=None)
    ap.add_argument("--phone", default=None)
    args = ap.parse_args()
    sender = f"talk-{uuid.uuid4().hex[:8]}"
    for text in args.messages:
        body = {"sender": sender, "message": text,
                "metadata": {"channel": args.channel, "conversation_id": sender,
                             "customer_id": args.customer_id, "phone": args.phone}}
        req = urllib.request.Request(args.url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            replies = json.loads(resp.read())
        print(f"> {text}")
        for reply in replies:
            if reply.get("text"):
                print(f"  < {reply['text']}")
            if reply.get("buttons"):
                print("    [" + " | ".join(f"{b['title']} -> {b['payload']}" for b in reply["buttons"]) + "]")
            if reply.get("custom"):
                print(f"  < custom: {json.dumps(reply['custom'], ensure_ascii=False)}")


if __name__ == "__main__":
    main()
