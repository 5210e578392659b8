"""orchestrator/config/types.py: the value types of perfctl.yaml, each refusing what k6 or
Prometheus would refuse, with a message fit for one line."""

from __future__ import annotations

from typing import Annotated, Optional

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from orchestrator.config.limits import MAX_COUNT, MAX_VUS
from orchestrator.config.types import (
    Count, CountOrZero, Headers, HeaderName, HeaderValue, HttpStatus, ScrapeAddress, UrlPath, Vus, VusOrZero,
    number_list_item, shown, url_problem, wants_number,
)


def ok(kind, value):
    return TypeAdapter(kind).validate_python(value)


def refused(kind, value) -> str:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(kind).validate_python(value)
    return str(caught.value)


@pytest.mark.parametrize("kind, low, high", [
    (Vus, 1, MAX_VUS), (VusOrZero, 0, MAX_VUS), (Count, 1, MAX_COUNT), (CountOrZero, 0, MAX_COUNT), (HttpStatus, 100, 599),
])
def test_number_ranges_are_inclusive_at_both_ends(kind, low, high):
    assert ok(kind, low) == low and ok(kind, high) == high
    refused(kind, low - 1)
    refused(kind, high + 1)


def test_shown_escapes_controls_only():
    assert shown("plain text / ünïcode") == "plain text / ünïcode"
    assert shown("a\nb\rc\x00") == "a\\nb\\rc\\x00"
    assert "\n" not in shown("X-Evil\nHost: other")


@pytest.mark.parametrize("name", ["X-Token", "Authorization", "x_custom.1", "!#$%&'*+.^_`|~-"])
def test_header_names_that_are_tokens(name):
    assert ok(HeaderName, name) == name


@pytest.mark.parametrize("name", ["", "X Token", "X-Token:", "X-Token\n", "Ä", "a/b"])
def test_header_names_that_are_not(name):
    message = refused(HeaderName, name)
    assert "is not a header name" in message
    assert "\n" not in message.split("is not a header name")[0].splitlines()[-1]  # the name is escaped onto one line


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_header_values_with_line_breaks_or_nul(value):
    assert "must not contain line breaks" in refused(HeaderValue, value)


def test_header_value_may_hold_anything_else():
    assert ok(HeaderValue, "Bearer ${TOKEN} ; q=0.9 \t ünï") == "Bearer ${TOKEN} ; q=0.9 \t ünï"


def test_headers_name_the_header_of_a_bad_value_and_report_every_problem():
    message = refused(Headers, {"Good": "ok", "X-Token": "a\nb", "Bad Name": "v"})
    assert "X-Token: a header value must not contain line breaks" in message
    assert "'Bad Name' is not a header name" in message
    assert ok(Headers, {"A": "1", "B": "2"}) == {"A": "1", "B": "2"}


@pytest.mark.parametrize("path", ["/", "/api/items?x=1", "${BASE_PATH}/items", "${P:-/x}"])
def test_paths_that_append_to_the_base_url(path):
    assert ok(UrlPath, path) == path


def test_paths_without_a_leading_slash_or_with_controls():
    assert "must start with /" in refused(UrlPath, "api/items")
    assert "must start with /" in refused(UrlPath, "$BASE/items")  # only ${NAME} is a runtime reference
    assert "control characters" in refused(UrlPath, "/a\nb")
    assert "control characters" in refused(UrlPath, "${P}\x7f")


@pytest.mark.parametrize("address", ["127.0.0.1:8080", "localhost:1", "a-b.example.com:65535", "[::1]:9090"])
def test_scrape_addresses(address):
    assert ok(ScrapeAddress, address) == address


@pytest.mark.parametrize("address, problem", [
    ("http://127.0.0.1:8080", "must be HOST:PORT"),
    ("127.0.0.1", "must be HOST:PORT"),
    ("127.0.0.1:8080/metrics", "must be HOST:PORT"),
    ("-bad.example:80", "must be HOST:PORT"),
    ("host:80\n", "must be HOST:PORT"),
    ("host:0", "the port must be 1-65535"),
    ("host:65536", "the port must be 1-65535"),
])
def test_scrape_addresses_refused(address, problem):
    assert problem in refused(ScrapeAddress, address)


@pytest.mark.parametrize("url, problem", [
    ("http://127.0.0.1:8080", None),
    ("HTTPS://example.com/base", None),
    ("http://[::1]:8080", None),
    ("ftp://example.com", "must start with http:// or https://"),
    ("example.com:8080", "must start with http:// or https://"),
    ("http://", "must start with http:// or https://"),
    ("http://:8080", "must name a host"),
    ("http://host:0", "must have a port in 1-65535"),
    ("http://host:65536", "must have a port in 1-65535"),
    ("http://host:port", "must have a port in 1-65535"),
    ("http://host/a b", "must not contain spaces or control characters"),
    ("http://host/\n", "must not contain spaces or control characters"),
])
def test_url_problem(url, problem):
    assert url_problem(url, ("http", "https")) == problem


def test_url_problem_names_the_schemes_asked_for():
    assert url_problem("http://h:1", ("ws", "wss")) == "must start with ws:// or wss://"
    assert url_problem("wss://h:1", ("ws", "wss")) is None


@pytest.mark.parametrize("annotation, expected", [
    (int, True), (float, True), (bool, False), (str, False), (Vus, True), (Optional[float], True),
    (int | None, True), (str | None, False), (Annotated[str, Field(min_length=1)], False), (list[int], False),
])
def test_wants_number(annotation, expected):
    assert wants_number(annotation) is expected


@pytest.mark.parametrize("annotation, expected", [
    (list[int], True), (list[HttpStatus], True), (Optional[list[Vus]], True), (Annotated[list[float], Field()], True),
    (list[str], False), (int, False), (dict[str, int], False),
])
def test_number_list_item(annotation, expected):
    assert number_list_item(annotation) is expected
