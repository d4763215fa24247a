from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import MultiDict
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from services.notifier.adapters.sms.twilio.signature import (
    body_sha256,
    expected_signature,
    is_valid_signature,
)
from services.notifier.domain.external_url import external_url
from shared.devtwilio import twilio_signature as fake_twilio_signature

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"

# Twilio's worked example as its SDKs test it (twilio-python, -php, -csharp).
SDK_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675309",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
}
SDK_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

# The same example as Twilio's "Webhooks security" page prints it today: other phone numbers,
# hence another signature. (RSOYDt… is *not* the signature of these parameters.)
DOCS_PARAMS = SDK_PARAMS | {"Caller": "+12349013030", "From": "+12349013030"}
DOCS_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


@pytest.mark.parametrize(
    ("params", "signature"), [(SDK_PARAMS, SDK_SIGNATURE), (DOCS_PARAMS, DOCS_SIGNATURE)]
)
def test_twilios_published_examples_are_reproduced(params: dict[str, str], signature: str) -> None:
    assert expected_signature(URL, params, TOKEN) == signature
    assert is_valid_signature(URL, params, signature, TOKEN)


def test_the_sdk_signature_does_not_belong_to_the_docs_parameters() -> None:
    assert not is_valid_signature(URL, DOCS_PARAMS, SDK_SIGNATURE, TOKEN)


def test_parameter_order_does_not_matter() -> None:
    shuffled = dict(reversed(list(SDK_PARAMS.items())))
    assert expected_signature(URL, shuffled, TOKEN) == SDK_SIGNATURE
    assert expected_signature(URL, list(shuffled.items()), TOKEN) == SDK_SIGNATURE


def test_names_sort_by_name_alone_not_by_name_and_value() -> None:
    # Sorting "name+value" strings would put ReasonConferenceEnded… before ReasonParticipant….
    params = {"Reason": "Participant left", "ReasonConferenceEnded": "participant-left"}
    data = URL + "ReasonParticipant left" + "ReasonConferenceEndedparticipant-left"
    assert expected_signature(URL, params, TOKEN) == _hmac(data)


def test_repeated_names_sign_each_value_sorted_by_value() -> None:
    # twilio-python's vector for a repeated name: Twilio sorts the values, not arrival order.
    pairs = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert expected_signature(URL, pairs, TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    as_lists = {"Sid": ["CA123"], "SidAccount": ["AC123"], "Digits": ["5678", "1234"]}
    assert expected_signature(URL, as_lists, TOKEN) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_a_multidict_from_aiohttp_signs_every_value() -> None:
    form = MultiDict([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678")])
    form.add("Digits", "1234")
    assert is_valid_signature(URL, form, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", TOKEN)


@pytest.mark.parametrize(
    "forged",
    ["", "RSOYDt4T1cUTdK1PDd93/VVr8B8", "RSOYDt4T1cUTdK1PDd93/VVr8B9=", "x" * 28, "王" * 7],
)
def test_forged_signatures_are_refused(forged: str) -> None:
    assert not is_valid_signature(URL, SDK_PARAMS, forged, TOKEN)


def test_a_missing_signature_is_refused() -> None:
    assert not is_valid_signature(URL, SDK_PARAMS, None, TOKEN)


def test_another_auth_token_is_refused() -> None:
    assert not is_valid_signature(URL, SDK_PARAMS, SDK_SIGNATURE, "54321")
    assert not is_valid_signature(URL, SDK_PARAMS, SDK_SIGNATURE, "")


@pytest.mark.parametrize(
    "url",
    [
        "https://mycompany.com/myapp.php?foo=1&bar=3",
        "https://mycompany.com/myapp.php?bar=2&foo=1",
        "https://mycompany.com/myapp.php",
        "http://mycompany.com/myapp.php?foo=1&bar=2",
        "https://evil.example/myapp.php?foo=1&bar=2",
        "https://mycompany.com/other.php?foo=1&bar=2",
    ],
)
def test_a_signature_is_bound_to_the_url(url: str) -> None:
    assert not is_valid_signature(url, SDK_PARAMS, SDK_SIGNATURE, TOKEN)


@pytest.mark.parametrize(
    "tamper",
    [
        {"Digits": "9999"},
        {"Extra": "1"},
        {"From": "+14158675300"},
    ],
)
def test_a_signature_is_bound_to_every_parameter(tamper: dict[str, str]) -> None:
    assert not is_valid_signature(URL, SDK_PARAMS | tamper, SDK_SIGNATURE, TOKEN)


def test_a_missing_parameter_is_refused() -> None:
    params = {k: v for k, v in SDK_PARAMS.items() if k != "Digits"}
    assert not is_valid_signature(URL, params, SDK_SIGNATURE, TOKEN)


def test_signed_with_the_default_port_validates_without_it() -> None:
    # twilio-python: the example URL signed with :443 gives kvajT1P…
    assert expected_signature(
        "https://mycompany.com:443/myapp.php?foo=1&bar=2", SDK_PARAMS, TOKEN
    ) == ("kvajT1Ptam85bY51eRf/AJRuM3w=")
    assert is_valid_signature(URL, SDK_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=", TOKEN)


def test_signed_without_the_port_validates_with_it() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert is_valid_signature(with_port, SDK_PARAMS, SDK_SIGNATURE, TOKEN)


def test_http_uses_port_80() -> None:
    url = "http://mycompany.com/myapp.php?foo=1&bar=2"
    signed_with_80 = expected_signature(url.replace(".com", ".com:80"), SDK_PARAMS, TOKEN)
    assert is_valid_signature(url, SDK_PARAMS, signed_with_80, TOKEN)
    signed_with_443 = expected_signature(url.replace(".com", ".com:443"), SDK_PARAMS, TOKEN)
    assert not is_valid_signature(url, SDK_PARAMS, signed_with_443, TOKEN)


def test_a_non_default_port_may_be_dropped_but_not_changed() -> None:
    # As twilio-python does: a URL seen with :8443 validates a signature made without a port.
    assert is_valid_signature(
        "https://mycompany.com:8443/myapp.php?foo=1&bar=2", SDK_PARAMS, SDK_SIGNATURE, TOKEN
    )
    signed_8443 = expected_signature(
        "https://mycompany.com:8443/myapp.php?foo=1&bar=2", SDK_PARAMS, TOKEN
    )
    assert not is_valid_signature(
        "https://mycompany.com:9443/myapp.php?foo=1&bar=2", SDK_PARAMS, signed_8443, TOKEN
    )


def test_an_unparseable_port_is_checked_as_given_only() -> None:
    url = "https://mycompany.com:99999/x"
    assert is_valid_signature(url, {}, expected_signature(url, {}, TOKEN), TOKEN)
    assert not is_valid_signature(url, {}, SDK_SIGNATURE, TOKEN)


@given(
    url=st.sampled_from([URL, "http://127.0.0.1:8080/sms/status", "https://a.example/"]),
    params=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=6),
    token=st.text(min_size=1, max_size=40),
)
def test_the_dev_fake_signs_exactly_as_the_notifier_validates(
    url: str, params: dict[str, str], token: str
) -> None:
    signature = fake_twilio_signature(url, params, token)
    assert signature == expected_signature(url, params, token)
    assert is_valid_signature(url, params, signature, token)


class TestExternalUrl:
    def test_without_forwarded_headers_it_is_the_url_this_process_saw(self) -> None:
        assert (
            external_url("http", "10.0.0.7:8080", "/sms/inbound", "a=1")
            == "http://10.0.0.7:8080/sms/inbound?a=1"
        )

    def test_behind_a_tls_ingress(self) -> None:
        url = external_url(
            "http",
            "notifier.internal:8080",
            "/sms/status",
            "delivery=d_1",
            forwarded_proto="https",
            forwarded_host="rituals.example.org",
            forwarded_port="443",
        )
        assert url == "https://rituals.example.org/sms/status?delivery=d_1"

    def test_a_non_default_forwarded_port_is_kept(self) -> None:
        url = external_url(
            "http",
            "notifier.internal:8080",
            "/sms/status",
            "",
            forwarded_proto="https",
            forwarded_host="rituals.example.org",
            forwarded_port="8443",
        )
        assert url == "https://rituals.example.org:8443/sms/status"

    def test_the_forwarded_port_replaces_the_internal_one(self) -> None:
        url = external_url(
            "http",
            "rituals.example.org:8080",
            "/x",
            "",
            forwarded_proto="https",
            forwarded_port="443",
        )
        assert url == "https://rituals.example.org/x"

    def test_a_port_in_the_forwarded_host_is_kept(self) -> None:
        url = external_url("http", "internal", "/x", "", forwarded_host="rituals.example.org:8443")
        assert url == "http://rituals.example.org:8443/x"

    def test_only_the_first_of_several_proxies_counts(self) -> None:
        url = external_url(
            "http",
            "internal",
            "/x",
            "",
            forwarded_proto="https, http",
            forwarded_host="rituals.example.org, lb.internal",
            forwarded_port="443, 80",
        )
        assert url == "https://rituals.example.org/x"

    def test_ipv6_hosts_keep_their_brackets(self) -> None:
        assert external_url("http", "[::1]:8080", "/x", "", forwarded_port="9000") == (
            "http://[::1]:9000/x"
        )
        assert external_url("https", "[::1]", "/x", "") == "https://[::1]/x"

    def test_the_raw_query_is_kept_as_sent(self) -> None:
        # Re-encoding %2B as + (or sorting the query) would break Twilio's signature.
        url = external_url("https", "h.example", "/x", "to=%2B4477&b=2&a=1")
        assert url == "https://h.example/x?to=%2B4477&b=2&a=1"

    def test_an_empty_path_is_the_root(self) -> None:
        assert external_url("https", "h.example", "", "") == "https://h.example/"

    def test_a_rebuilt_url_validates_what_twilio_signed(self) -> None:
        signed_url = "https://rituals.example.org/sms/inbound?community=north"
        params = {"From": "+447700900123", "Body": "2", "MessageSid": "SM1"}
        signature = expected_signature(signed_url, params, TOKEN)
        seen = external_url(
            "http",
            "10.1.2.3:8080",
            "/sms/inbound",
            "community=north",
            forwarded_proto="https",
            forwarded_host="rituals.example.org",
            forwarded_port="443",
        )
        assert is_valid_signature(seen, params, signature, TOKEN)


class TestAgreementWithTwiliosSdk:
    """Vectors made with twilio-python's RequestValidator: what it signs and accepts, we do."""

    SDK = RequestValidator(TOKEN)

    def sdk_signature(self, url: str, pairs: list[tuple[str, str]]) -> str:
        signature: str = self.SDK.compute_signature(url, MultiDict(pairs))
        return signature

    def sdk_accepts(self, url: str, params: list[tuple[str, str]] | str, signature: str) -> bool:
        body = params if isinstance(params, str) else MultiDict(params)
        return bool(self.SDK.validate(url, body, signature))

    @pytest.mark.parametrize(
        "pairs",
        [
            pytest.param([("Digits", "1"), ("Digits", "1")], id="repeated identical value"),
            pytest.param(
                [("Digits", "1"), ("To", "+1"), ("Digits", "1"), ("Digits", "2")],
                id="repeated identical and different values",
            ),
            pytest.param([("Digits", "5678"), ("Digits", "1234")], id="repeated different values"),
            pytest.param(
                [("Body", "Grüße, ça va? 👋"), ("Ünïcode", "名前"), ("From", "+447700900123")],
                id="unicode",
            ),
            pytest.param([("Body", ""), ("MediaUrl0", ""), ("From", "+1")], id="empty values"),
            pytest.param([("", "x"), ("", "")], id="empty names"),
            pytest.param([], id="no parameters"),
        ],
    )
    @pytest.mark.parametrize(
        "url",
        [
            URL,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "http://mycompany.com/sms/status",
            "http://mycompany.com:80/sms/status",
            "https://mycompany.com:8443/sms/inbound?community=north",
        ],
    )
    def test_form_vectors(self, url: str, pairs: list[tuple[str, str]]) -> None:
        signature = self.sdk_signature(url, pairs)
        assert expected_signature(url, pairs, TOKEN) == signature
        assert self.sdk_accepts(url, pairs, signature)
        assert is_valid_signature(url, pairs, signature, TOKEN)
        assert is_valid_signature(url, MultiDict(pairs), signature, TOKEN)

    @pytest.mark.parametrize(
        ("signed_url", "seen_url"),
        [
            ("https://mycompany.com:443/x?a=1", "https://mycompany.com/x?a=1"),
            ("https://mycompany.com/x?a=1", "https://mycompany.com:443/x?a=1"),
            ("http://mycompany.com:80/x", "http://mycompany.com/x"),
            ("https://mycompany.com/x", "https://mycompany.com:8443/x"),
            ("https://mycompany.com:8443/x", "https://mycompany.com:9443/x"),
            ("http://mycompany.com:443/x", "http://mycompany.com/x"),
        ],
    )
    def test_port_vectors(self, signed_url: str, seen_url: str) -> None:
        pairs = [("MessageSid", "SM1"), ("MessageStatus", "delivered")]
        signature = self.sdk_signature(signed_url, pairs)
        assert is_valid_signature(seen_url, pairs, signature, TOKEN) == self.sdk_accepts(
            seen_url, pairs, signature
        )

    BODY = '{"MessageSid":"SM1","MessageStatus":"delivered","note":"ça"}'
    BASE = "https://mycompany.com/v1/webhooks/sms/twilio/status"

    def json_request(self, body: str) -> tuple[str, str]:
        """The URL Twilio calls for a JSON body, and the signature it sends."""
        url = f"{self.BASE}?bodySHA256={self.SDK.compute_hash(body)}"
        return url, self.sdk_signature(url, [])

    def test_a_json_body_signed_with_its_hash(self) -> None:
        url, signature = self.json_request(self.BODY)
        assert body_sha256(self.BODY) == self.SDK.compute_hash(self.BODY)
        assert self.sdk_accepts(url, self.BODY, signature)
        assert is_valid_signature(url, self.BODY, signature, TOKEN)
        assert is_valid_signature(url, self.BODY.encode(), signature, TOKEN)

    def test_a_tampered_json_body_is_refused(self) -> None:
        url, signature = self.json_request(self.BODY)
        tampered = self.BODY.replace("delivered", "failed")
        assert not self.sdk_accepts(url, tampered, signature)
        assert not is_valid_signature(url, tampered, signature, TOKEN)

    def test_a_tampered_body_hash_is_refused(self) -> None:
        url, signature = self.json_request(self.BODY)
        tampered_hash = url[:-1] + ("0" if url[-1] != "0" else "1")
        assert not self.sdk_accepts(tampered_hash, self.BODY, signature)
        assert not is_valid_signature(tampered_hash, self.BODY, signature, TOKEN)

    def test_a_body_whose_url_was_signed_with_another_hash_is_refused(self) -> None:
        # Signature valid for its URL, but that URL declares another body's hash.
        url, signature = self.json_request('{"MessageSid":"SM2"}')
        assert not self.sdk_accepts(url, self.BODY, signature)
        assert not is_valid_signature(url, self.BODY, signature, TOKEN)

    def test_a_body_without_a_declared_hash_is_refused(self) -> None:
        signature = self.sdk_signature(self.BASE, [])
        assert not is_valid_signature(self.BASE, self.BODY, signature, TOKEN)

    @given(
        url=st.sampled_from([URL, "http://127.0.0.1:8080/sms/status", "https://a.example:443/"]),
        pairs=st.lists(
            st.tuples(st.sampled_from(["Body", "Digits", "From", "ä"]), st.text(max_size=8)),
            max_size=8,
        ),
    )
    def test_any_form_signs_as_the_sdk_signs_it(
        self, url: str, pairs: list[tuple[str, str]]
    ) -> None:
        signature = self.sdk_signature(url, pairs)
        assert expected_signature(url, pairs, TOKEN) == signature
        assert is_valid_signature(url, pairs, signature, TOKEN)


def _hmac(data: str) -> str:
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()
