"""The drawing app's error answers: ``HttpError`` (a status other than 200,
its one-line message, whether to hang up) and how values are shown in a
message."""

import json
import re

MESSAGE_LIMIT = 300            # error messages are cut to one line of this many characters


class HttpError(Exception):
    """An answer other than 200: status, message, and whether to hang up."""

    def __init__(self, status, message, close=False, drain=0, headers=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.close, self.drain, self.headers = close, drain, headers or {}


def one_line(text, limit=MESSAGE_LIMIT):
    """``text`` on one line (control characters as spaces), cut to ``limit``."""
    text = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", str(text)).strip()
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value, limit=60):
    """A request value for an error message: JSON, short."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return one_line(text, limit)
