"""Credentials never reach text: URLs (userinfo, query tokens) and ``password=``-style values."""

from __future__ import annotations

import pytest

from reconcile.redaction import query_secrets, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://ci:TOKEN@host/apps.git", "http://host/apps.git"),
        ("https://TOKEN@host:8443/apps.git", "https://host:8443/apps.git"),
        ("https://host/apps.git?access_token=TOKEN", "https://host/apps.git?access_token=***"),
        (
            "https://host/a.git?ref=main&private_token=T&password=P",
            "https://host/a.git?ref=main&private_token=***&password=***",
        ),
        ("https://host/a.git?Token=T#frag", "https://host/a.git?Token=***#frag"),
        (
            "https://host/charts?X-Amz-Signature=abc&sig=def&key=k",
            "https://host/charts?X-Amz-Signature=***&sig=***&key=***",
        ),
        ("ssh://git:PASS@host/repo.git", "ssh://git@host/repo.git"),
        ("ssh://git@host/repo.git", "ssh://git@host/repo.git"),
        ("oci://robot:TOKEN@registry.local/charts", "oci://registry.local/charts"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("user:PASS@host:repo.git", "user@host:repo.git"),
        ("/srv/repos/apps.git", "/srv/repos/apps.git"),
        ("https://host/apps.git?ref=main&author=me", "https://host/apps.git?ref=main&author=me"),
        ("http://ci:TOKEN@host:notaport/x", "http://host:notaport/x"),
    ],
)
def test_a_url_keeps_its_address_and_loses_its_credentials(url, shown):
    assert redact_url(url) == shown
    assert "TOKEN" not in redact_url(url)
    assert "PASS" not in redact_url(url)


def test_text_has_every_url_and_assignment_redacted():
    text = (
        "fatal: could not read from 'https://ci:TOKEN@host/a.git?access_token=QTOKEN' "
        "(helm --password=HUNTER2 api_key: KEY123) see https://docs.example/x"
    )
    shown = redact_text(text)
    for secret in ("TOKEN", "QTOKEN", "HUNTER2", "KEY123"):
        assert secret not in shown
    assert "https://host/a.git?access_token=***" in shown
    assert "https://docs.example/x" in shown


def test_text_masks_given_secrets_longest_first_and_leaves_ordinary_text_alone():
    assert redact_text("chart web-1.2.3 rendered") == "chart web-1.2.3 rendered"
    assert redact_text("https://user:pa55@host/repo", ["pa55"]) == "https://host/repo"
    assert redact_text("s3cr3t-long and s3cr3t", ["s3cr3t", "s3cr3t-long"]) == "*** and ***"


def test_query_secrets_are_the_sensitive_values_as_written_and_decoded():
    assert query_secrets("https://h/r?ref=main&access_token=a%2Bb") == ("a%2Bb", "a+b")
    assert query_secrets("https://h/r") == ()
