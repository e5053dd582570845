"""One module per channel: verify and parse inbound requests, render and send outbound messages."""
