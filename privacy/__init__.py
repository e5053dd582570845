"""Personal data under UU 27/2022: rights requests, the access export, retention (docs/privacy.md)."""
