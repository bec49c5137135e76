"""The pure safety layer: redaction, bounded messages, picklable errors, JWTs, header tokens."""

from __future__ import annotations

import gc
import json
import logging
import math
import pickle
import secrets

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner_async import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    DeadlineExceededError,
    PlannerError,
    QuotaWaitError,
    RateLimitError,
    ServerError,
)
from planner_async._exceptions import (
    MAX_ERROR_CHARS,
    MAX_MESSAGE_CHARS,
    error_from_response,
    parse_error_body,
)
from planner_async._jwt import (
    MAX_HEADER_TOKEN_CHARS,
    check_header_token,
    expiry_from_token,
    jwt_claims,
    usable_exp,
)
from planner_async._logging import LOG_FILTER, configure_from_env
from planner_async._redact import Redactor, clean_text, live_redactors, redact

from support import ClientFactory, jwt

KEY = "sk-live-0123456789abcdef"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


# -- redact ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"token": "abc def"}', '{"token": "***"}'),
        ("{'refresh_token': 'r-1'}", "{'refresh_token': '***'}"),
        ("password=hunter2&user=ann", "password=***&user=ann"),
        ('"apiKey":"k1","x":1', '"apiKey":"***","x":1'),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        (f"jwt {JWT} end", "jwt *** end"),
        ("cut short eyJhbGciOiJIUzI1", "cut short ***"),
        ("the other theme", "the other theme"),
    ],
)
def test_patterns_mask_secret_shapes(text: str, expected: str):
    """Bearer credentials, JWTs (even cut short) and secret-named fields are masked."""
    assert expected == redact(text)


@pytest.mark.parametrize("secret", ["h", "e", "th", "the"])
def test_very_short_secrets_never_mangle_text(secret: str):
    """A known secret under four characters is not searched for at all."""
    assert "the other theme" == redact("the other theme", secret)


def test_short_secrets_match_only_whole_tokens():
    """A secret of four to seven characters is masked only where it stands alone."""
    assert "key *** and keyxyz1 and xyz1s" == redact("key xyz1 and keyxyz1 and xyz1s", "xyz1")


def test_long_secrets_match_anywhere_longest_first():
    """A secret of eight characters or more is masked even when glued to other text."""
    assert "x***y and ***" == redact(f"x{KEY}y and {KEY[:10]}", KEY, KEY[:10])


@given(st.text(max_size=200), st.text(min_size=8, max_size=40))
@settings(max_examples=60, deadline=None)
def test_a_long_secret_never_survives_redaction(prefix: str, secret: str):
    """Whatever surrounds it, a known secret of eight or more characters is gone."""
    if "*" in secret:
        return  # a secret made of mask characters could be rebuilt by the masks themselves
    assert secret not in redact(prefix + secret + prefix, secret)


# -- clean_text and the error body ----------------------------------------------------------


def test_redaction_happens_before_the_cut():
    """A secret crossing the cut leaks no prefix: it is masked first, then the text is cut."""
    text = "x" * (MAX_MESSAGE_CHARS - 5) + KEY
    cleaned = clean_text(text, KEY, limit=MAX_MESSAGE_CHARS)
    assert KEY[:4] not in cleaned
    assert cleaned.endswith("xxxxx***")


def test_control_characters_and_surrogates_are_made_printable():
    """Terminal escapes, NULs and lone surrogates cannot reach a log line."""
    assert "a \ufffd[31m b\ufffd c \ufffd" == clean_text("a \x1b[31m b\x00 c \ud800", limit=50)


def test_five_megabyte_message_gives_a_bounded_error():
    """A 5 MB message and a 1 MB error title give an exception string under 1,000 chars."""
    body = json.dumps({"error": "E" * 1_000_000, "message": "m" * 5_000_000}).encode()
    error = error_from_response(httpx.Response(500, content=body))
    assert MAX_ERROR_CHARS + 1 == len(error.error or "")
    assert MAX_MESSAGE_CHARS + 1 == len(error.message)
    assert len(str(error)) < 1000


@pytest.mark.parametrize("field", ["error", "message"])
def test_every_shown_field_is_redacted(field: str):
    """A key and a JWT echoed in ``error`` or ``message`` reach neither field nor str()."""
    body = {"error": "E", "message": "M", field: f"k={KEY} t={JWT}"}
    error = error_from_response(httpx.Response(401, json=body), secrets=(KEY,))
    shown = f"{error} {error!r} {error.error} {error.message}"
    assert KEY not in shown
    assert JWT[:20] not in shown


def test_non_json_bodies_are_redacted_as_a_whole():
    """A body whose error/message are not strings is shown as a redacted snippet."""
    body = json.dumps({"error": {"detail": KEY}, "message": 5}).encode()
    assert (None, 'unexpected body: {"error": {"detail": "***"}, "message": 5}') == (
        parse_error_body(body, secrets=(KEY,))
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"\xff\xfe\x00garbage",
        b'{"error": "\\ud800", "message": "\\udfff"}',
    ],
)
def test_hostile_error_bodies_never_raise(body: bytes):
    """Deep nesting, non-UTF-8 and lone surrogates in an error body give a short message."""
    error = error_from_response(httpx.Response(502, content=body))
    assert isinstance(error, ServerError)
    str(error).encode("utf-8")  # printable: no lone surrogates left
    assert len(str(error)) < 600


def test_log_records_of_the_package_logger_are_redacted(caplog: pytest.LogCaptureFixture):
    """Every record of the ``planner_async`` logger has bearer tokens and JWTs masked."""
    caplog.set_level(logging.DEBUG, logger="planner_async")
    logging.getLogger("planner_async").debug("sent %s with Bearer %s", JWT, "tok-123")
    assert "sent *** with Bearer ***" == caplog.records[-1].getMessage()


# -- per-client redactors and their registry -------------------------------------------------


def opaque() -> str:
    """A secret no pattern recognises: only a redactor can mask it."""
    return f"opaque{secrets.token_hex(10)}"


def test_a_redactor_reads_its_secrets_live():
    """A token that changes after the redactor was made is masked; the one replaced is not."""
    held = [opaque()]
    redactor = Redactor(lambda: tuple(held))
    first = held[0]
    held[0] = second = opaque()
    try:
        assert f"{first} ***" == redactor.redact(f"{first} {second}")
    finally:
        redactor.close()


def test_live_redactors_mask_every_log_record_and_local_error(caplog: pytest.LogCaptureFixture):
    """A live redactor's secret is masked in package log lines and locally built errors."""
    secret = opaque()
    redactor = Redactor(lambda: (secret,))
    caplog.set_level(logging.DEBUG, logger="planner_async")
    try:
        logging.getLogger("planner_async").debug("renewing with %s", secret)
        error = APIResponseValidationError(f"invalid literal for int(): {secret!r}")
    finally:
        redactor.close()
    assert ["renewing with ***", "invalid literal for int(): '***'"] == [
        caplog.records[-1].getMessage(),
        str(error),
    ]


def test_a_closed_redactor_leaves_the_registry():
    """After close() a redactor is not live and its secrets are no longer searched for."""
    secret = opaque()
    redactor = Redactor(lambda: (secret,))
    assert (True, "***") == (redactor.live, redact(secret))
    redactor.close()
    assert (False, secret, False) == (redactor.live, redact(secret), redactor in live_redactors())


def test_a_dropped_redactor_leaves_nothing_behind():
    """A redactor nobody holds leaves the registry when collected, weak reference included."""
    before = len(live_redactors())
    Redactor(lambda: (opaque(),))
    gc.collect()
    assert (before, ()) == (len(live_redactors()), tuple(r for r in live_redactors() if r is None))


def test_no_eviction_among_a_thousand_live_redactors():
    """The first of 1,000 live redactors is still masked: nothing is evicted."""
    keys = [opaque() for _ in range(1000)]
    redactors = [Redactor(lambda key=key: (key,)) for key in keys]
    try:
        assert "*** ***" == redact(f"{keys[0]} {keys[-1]}")
    finally:
        for redactor in redactors:
            redactor.close()


def test_a_secret_inside_another_clients_secret_leaves_no_part():
    """Secrets of all live redactors are masked longest first, whoever holds them."""
    long = opaque()
    short = long[:12]
    redactors = [Redactor(lambda: (short,)), Redactor(lambda: (long,))]
    try:
        assert "[***]" == redact(f"[{long}]")
    finally:
        for redactor in redactors:
            redactor.close()


def test_a_redactor_whose_client_is_half_built_masks_what_it_last_knew():
    """A secrets callable that raises gives the last secrets read, never an error."""
    state: dict[str, str] = {"key": opaque()}
    redactor = Redactor(lambda: (state["key"],))
    try:
        redactor.known()
        key = state.pop("key")
        assert "***" == redactor.redact(key)
    finally:
        redactor.close()


def test_the_log_filter_masks_a_traceback(caplog: pytest.LogCaptureFixture):
    """A live secret inside a logged exception's traceback text is masked too."""
    secret = opaque()
    redactor = Redactor(lambda: (secret,))
    caplog.set_level(logging.DEBUG, logger="planner_async")
    try:
        try:
            raise ValueError(f"bad {secret}")
        except ValueError:
            logging.getLogger("planner_async").warning("hook failed", exc_info=True)
    finally:
        redactor.close()
    assert secret not in caplog.text
    assert "ValueError: bad ***" in caplog.text


def test_planner_log_rejects_unknown_levels():
    """An unknown ``PLANNER_LOG`` value warns and adds no handler; empty is silently off."""
    with pytest.warns(UserWarning, match="PLANNER_LOG='loud'"):
        assert configure_from_env("loud") is None
    assert configure_from_env("") is None
    assert LOG_FILTER in logging.getLogger("planner_async").filters


@pytest.mark.anyio
@pytest.mark.backends("asyncio", "trio")
async def test_a_client_redacts_until_it_is_closed(make_client: ClientFactory):
    """A client's key is masked while it is open, views included; closing it unregisters."""
    key = opaque()
    fake_key_client = make_client(api_key=key)
    view = fake_key_client.with_options(max_retries=0)
    await view.aclose()  # a view closes nothing
    assert "***" == redact(key)
    await fake_key_client.aclose()
    assert key == redact(key)


# -- the error classes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ServerError("boom", status_code=503, error="Down", response=httpx.Response(503)),
        RateLimitError("slow", retry_after=7.5, response=httpx.Response(429)),
        QuotaWaitError("no permit", retry_after=1.5),
        APIResponseValidationError("bad", response=httpx.Response(200)),
        APIConnectionError("reset", request=httpx.Request("GET", "https://api.example/x")),
        APITimeoutError(host="api.example"),
        DeadlineExceededError(deadline=2.0, host="api.example"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_pickle(error: PlannerError):
    """Each error keeps class, message and plain attributes through pickle; HTTP objects drop."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(error) is type(copy)
    assert str(error) == str(copy)
    for name in ("status_code", "error", "message", "retry_after", "host", "deadline", "sent"):
        assert getattr(error, name, None) == getattr(copy, name, None)
    assert getattr(copy, "response", None) is None
    assert getattr(copy, "request", None) is None


def test_quota_wait_error_says_nothing_was_sent():
    """A local refusal is a RateLimitError with sent=False and no response; a 429 has sent=True."""
    local = QuotaWaitError("no permit", retry_after=2.0)
    served = error_from_response(httpx.Response(429), retry_after=2.0)
    assert isinstance(local, RateLimitError)
    assert (False, None, True) == (local.sent, local.response, served.sent)


def test_connection_error_names_the_host_and_keeps_the_cause():
    """APIConnectionError takes its host from the request and keeps the transport error."""
    cause = httpx.ConnectError("refused")
    error = APIConnectionError(
        "connection refused", request=httpx.Request("GET", "https://api.example/x"), cause=cause
    )
    assert ("api.example", cause) == (error.host, error.__cause__)


def test_locally_built_messages_are_redacted_and_bounded():
    """A message built around server text is pattern-redacted and cut to 2,000 characters."""
    error = APIResponseValidationError(f"bad answer with Bearer {KEY} " + "y" * 10_000)
    assert KEY not in str(error)
    assert len(str(error)) <= 2001


# -- JWT claims and expiry ------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "opaque",
        "a.b",
        "a.!!!.c",
        jwt(payload=b"\xff\xfe"),
        jwt(payload=b"[" * 100_000),
        jwt(payload=b'{"a":' * 3000 + b"1" + b"}" * 3000),
        jwt(payload=b"[1, 2]"),
        "é.ü.ö",
        "a." + "A" * 100_000 + ".c",
    ],
)
def test_jwt_claims_never_raise(token: str):
    """Anything that is not a small JSON object in a JWT payload gives None."""
    assert jwt_claims(token) is None


UNUSABLE = [1e12 + 1, 1.8e12, 1e20, -1e20, -1, 0, math.inf, -math.inf, math.nan, True, False]


@pytest.mark.parametrize("exp", [*UNUSABLE, "1700000000", 10**400, None, [1], {"a": 1}])
def test_unusable_exp_values(exp: object):
    """Milliseconds, out-of-range, non-finite, boolean and non-number exps are unusable."""
    assert usable_exp(exp) is None


@pytest.mark.parametrize(
    "exp", [1e20, math.inf, math.nan, "soon", True, 10**400, 1_700_000_000_000]
)
def test_unusable_exp_falls_back_with_a_reason(exp: object):
    """An unusable exp gives issue time + default lifetime, and a reason to log once."""
    raw = json.dumps({"exp": exp}).encode()
    expiry, reason = expiry_from_token(
        jwt(payload=raw), issued_at=1000.0, default_lifetime=900.0, now=1001.0
    )
    assert 1900.0 == expiry
    assert reason is not None


def test_expired_at_issue_falls_back_with_a_reason():
    """A token whose exp is not after now gets the default lifetime and a reason."""
    token = jwt(payload=b'{"exp": 1000}')
    assert (2000.0, "the token was already expired when issued (exp 1000 <= now 1100)") == (
        expiry_from_token(token, issued_at=1100.0, default_lifetime=900.0, now=1100.0)
    )


def test_good_and_missing_exp():
    """A usable future exp is used; a JWT without exp quietly gets the default lifetime."""
    kwargs = {"issued_at": 1000.0, "default_lifetime": 900.0, "now": 1000.0}
    assert (5000.0, None) == expiry_from_token(jwt(payload=b'{"exp": 5000}'), **kwargs)
    assert (1900.0, None) == expiry_from_token(jwt(payload=b'{"sub": "x"}'), **kwargs)


# -- header tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "match"),
    [
        ("tökén", r"non-ASCII \(U\+00F6\)"),
        ("a b", "a space"),
        ("a\r\nX-Evil: 1", r"control character \(U\+000D\)"),
        ("", "empty"),
        (None, "NoneType"),
        ("x" * (MAX_HEADER_TOKEN_CHARS + 1), "characters long"),
    ],
)
def test_tokens_that_cannot_travel_in_a_header_are_refused(token: object, match: str):
    """A token a header cannot carry is an APIResponseValidationError naming the problem."""
    with pytest.raises(APIResponseValidationError, match=match) as info:
        check_header_token(token)
    if isinstance(token, str) and len(token) > 3:
        assert token not in str(info.value)


def test_ordinary_tokens_pass_the_header_check():
    """JWTs and opaque tokens made of visible ASCII are returned unchanged."""
    assert JWT == check_header_token(JWT)
