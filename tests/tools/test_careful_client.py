"""Stack.as_client: a request that is safe to repeat is sent again when it got no answer at all
(round 3 of a flake hunt: the emulator closed a connection without one), as an AWS SDK does."""

from __future__ import annotations

import pytest
import requests

from orders_client import Response, Stack


def answers(*outcomes: Response | Exception):
    left = list(outcomes)

    def send() -> Response:
        out = left.pop(0)
        if isinstance(out, Exception):
            raise out
        return out

    return send


ACCEPTED = Response(202, {}, {"order_id": "o-1"}, "")


def test_a_connection_closed_without_an_answer_is_sent_again():
    closed = requests.ConnectionError("Remote end closed connection without response")
    assert Stack.as_client(answers(closed, closed, ACCEPTED), timeout=5) is ACCEPTED


def test_a_connection_that_never_answers_is_raised_at_the_deadline():
    def send() -> Response:
        raise requests.ConnectionError("refused")

    with pytest.raises(requests.ConnectionError):
        Stack.as_client(send, timeout=0.3)
