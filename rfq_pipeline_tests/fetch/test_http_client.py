"""The fetch layer against the simulator over real HTTP, with each fault the marketplaces throw at scrapers."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from rfq_pipeline.fetch.http_client import HttpClient, RetryPolicy, parse_retry_after


@pytest.fixture()
def sim(simulator):
    simulator.clear_faults()
    yield simulator
    simulator.clear_faults()


def _client(sleeps: list[float], throttles: list[tuple[str, float]] | None = None, **policy: object) -> HttpClient:
    return HttpClient(
        policy=RetryPolicy(timeouts_s=(1.0, 2.0, 3.0), **policy),  # type: ignore[arg-type]
        sleep=sleeps.append,
    )


def _list_url(sim) -> str:
    return sim.base_url("alibaba_rfq") + "/rfq/rfq_search_list.htm?country=AE&recently=Y&page=1"


def test_ok_page(sim) -> None:
    response = _client([]).get(_list_url(sim))
    assert response.ok and response.status == 200 and response.attempts == 1
    assert "window.PAGE_DATA" in response.text


def test_429_waits_for_retry_after_then_succeeds(sim) -> None:
    sleeps: list[float] = []
    throttles: list[tuple[str, float]] = []
    sim.set_fault("alibaba_rfq", "429", times=2, retry_after=7)
    response = _client(sleeps).get(_list_url(sim), on_throttle=lambda url, wait: throttles.append((url, wait)))
    assert response.ok and response.attempts == 3
    assert sleeps == [7.0, 7.0]
    assert [wait for _, wait in throttles] == [7.0, 7.0]


def test_5xx_backs_off_exponentially_with_jitter(sim) -> None:
    sleeps: list[float] = []
    sim.set_fault("alibaba_rfq", "503", times=3)
    response = _client(sleeps).get(_list_url(sim))
    assert response.ok and response.attempts == 4
    for wait, base in zip(sleeps, (1.0, 2.0, 4.0), strict=True):
        assert base <= wait <= base * 1.25


def test_persistent_5xx_gives_up_with_the_status(sim) -> None:
    sleeps: list[float] = []
    sim.set_fault("alibaba_rfq", "500", times=10)
    response = _client(sleeps).get(_list_url(sim))
    assert response.outcome == "http_error" and response.status == 500 and response.attempts == 4
    assert len(sleeps) == 3


def test_other_4xx_is_final(sim) -> None:
    sleeps: list[float] = []
    response = _client(sleeps).get(sim.base_url("go4worldbusiness") + "/buylead/view/999999999/nothing.html")
    assert response.outcome == "http_error" and response.status == 404 and response.attempts == 1
    assert sleeps == []


def test_timeout_is_retried_with_a_longer_timeout(sim) -> None:
    sleeps: list[float] = []
    sim.set_fault("alibaba_rfq", "timeout", times=1, delay=1.6)
    response = _client(sleeps).get(_list_url(sim))
    # The first attempt (1 s) times out; the second (2 s) outlives the 1.6 s delay of the retried request.
    assert response.ok and response.attempts == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("challenge_cloudflare", "cloudflare"),
        ("challenge_awswaf", "aws_waf"),
        ("captcha_alibaba", "captcha"),
        ("login", "login"),
    ],
)
def test_challenge_pages_are_recognized_not_retried(sim, fault: str, kind: str) -> None:
    sleeps: list[float] = []
    sim.set_fault("alibaba_rfq", fault, times=1)
    response = _client(sleeps).get(_list_url(sim))
    assert response.outcome == "challenge" and response.challenge == kind
    assert response.attempts == 1 and sleeps == []
    assert kind in (response.error or "")


def test_connection_refused_is_a_network_error() -> None:
    sleeps: list[float] = []
    response = _client(sleeps, backoff_s=(0.0,)).get("http://127.0.0.1:9/nothing")
    assert response.outcome == "network_error" and response.attempts == 2


def test_parse_retry_after() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
