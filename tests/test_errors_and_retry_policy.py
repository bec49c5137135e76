"""The pure parts: error mapping, redaction, Retry-After parsing, backoff, token expiry."""

from __future__ import annotations

import httpx
import pytest

from planner_async import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    EventPage,
    NotFoundError,
    PermissionDeniedError,
    PlannerError,
    RateLimitError,
    RetryPolicy,
    ServerError,
)
from planner_async._auth import token_expiry
from planner_async._events import next_page_number
from planner_async._exceptions import error_from_response
from planner_async._redact import redact
from planner_async._retry import parse_retry_after

from support import jwt


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (503, ServerError),
        (418, APIStatusError),
    ],
)
def test_status_maps_to_class(status, cls):
    """Each status gets its class, all under APIStatusError and PlannerError."""
    response = httpx.Response(status, json={"error": "E", "message": "M"})
    error = error_from_response(response)
    assert cls is type(error)
    assert isinstance(error, PlannerError)
    assert (status, "E", "M") == (error.status_code, error.error, error.message)
    assert response is error.response


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "(empty response body)"),
        (b'{"error": "Bad Req', 'unexpected body: {"error": "Bad Req'),
        (
            b"<html><h1>Bad gateway</h1></html>",
            "unexpected HTML page: <html><h1>Bad gateway</h1></html>",
        ),
    ],
)
def test_bodies_that_are_not_the_error_json(body, expected):
    """Empty, cut and HTML bodies still give a short, readable message."""
    error = error_from_response(httpx.Response(502, content=body))
    assert isinstance(error, ServerError)
    assert expected == error.message


def test_long_bodies_are_cut():
    """A huge body is cut to a snippet."""
    error = error_from_response(httpx.Response(500, text="x" * 10_000))
    assert len(error.message) < 250


def test_secrets_are_redacted_from_messages():
    """Tokens, JWTs and given secrets are masked in error messages."""
    body = {
        "error": "Unauthorised",
        "message": "token eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl rejected for key sk-12345; "
        "Bearer abc.def",
    }
    error = error_from_response(httpx.Response(401, json=body), secrets=("sk-12345",))
    assert "eyJ" not in error.message
    assert "sk-12345" not in error.message
    assert "abc.def" not in error.message
    assert '{"refreshToken": "***"}' == redact('{"refreshToken": "r-1"}')


def test_rate_limit_error_carries_retry_after():
    """RateLimitError exposes retry_after."""
    error = error_from_response(httpx.Response(429), retry_after=12.0)
    assert isinstance(error, RateLimitError)
    assert 12.0 == error.retry_after


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 60.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header, expected):
    """Retry-After parses as delta-seconds or an HTTP date, relative to now=40."""
    assert expected == parse_retry_after(header, now=40.0)


def test_backoff_is_capped_exponential_with_full_jitter():
    """Waits double from wait_initial up to wait_max; jitter scales within [0, ceiling]."""
    policy = RetryPolicy(wait_initial=1.0, wait_max=8.0)
    assert [1.0, 2.0, 4.0, 8.0, 8.0] == [policy.wait(n, rand=lambda: 1.0) for n in range(5)]
    assert 0.0 == policy.wait(3, rand=lambda: 0.0)
    assert 2.0 == policy.wait(3, rand=lambda: 0.25)
    assert 42.0 == policy.wait(0, retry_after=42.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"wait_initial": -1.0}, "wait_initial"),
        ({"wait_exp_base": 0.5}, "wait_exp_base"),
    ],
)
def test_retry_policy_rejects_bad_settings(kwargs, words):
    """Negative retries or waits are refused, naming the setting."""
    with pytest.raises(ValueError, match=words):
        RetryPolicy(**kwargs)


def test_token_expiry_prefers_the_exp_claim():
    """The JWT exp claim wins; without one, issue time plus the default lifetime."""
    assert 5000.0 == token_expiry(jwt(5000), issued_at=0.0, default_lifetime=900)
    assert 900.0 == token_expiry(jwt(sub="x"), issued_at=0.0, default_lifetime=900)
    assert 1900.0 == token_expiry("opaque", issued_at=1000.0, default_lifetime=900)
    assert 1900.0 == token_expiry("a.!!!.c", issued_at=1000.0, default_lifetime=900)


@pytest.mark.parametrize(
    ("payload", "requested", "expected"),
    [
        ({"items": [{"id": 1, "title": "t"}], "totalPages": 3}, 1, 2),
        ({"items": [{"id": 1, "title": "t"}], "totalPages": 3}, 3, None),
        ({"items": [], "totalPages": 3}, 2, None),
        ({"items": [{"id": 1, "title": "t"}]}, 1, None),  # short page, no totalPages
        ({"items": [{"id": i, "title": "t"} for i in range(2)]}, 1, 2),
    ],
)
def test_next_page_number(payload, requested, expected):
    """Paging stops on the last page, an empty page, or a short page without totals."""
    assert expected == next_page_number(EventPage.from_dict(payload), requested, 2)
