"""PII redaction: real identifiers become placeholders, look-alike numbers survive, kinds are configurable."""

from __future__ import annotations

import pytest
from django.test import override_settings

from apps.answers.safety.pii import pii_redact_for_tenant
from apps.core.pii import PII_KINDS, pii_redact
from apps.tenants.services import tenant_settings_update

# "+1 415 555 0132" in full-width forms (U+FF0B, U+FF10-FF19).
FULL_WIDTH_PHONE = "+1 415 555 0132".translate({ord("+"): 0xFF0B, **{ord(d): 0xFF10 + int(d) for d in "0123456789"}})


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        # e-mail addresses
        ("Write to jane.doe@example.com today", "Write to [EMAIL] today", "email"),
        ("cc: JANE+hr@sub.example.co.uk.", "cc: [EMAIL].", "email"),
        ("Kontakt: jürgen.müller@beispiel.de", "Kontakt: [EMAIL]", "email"),
        # phone numbers: international and the local formats of the configured regions
        ("Call +1 415 555 2671 now", "Call [PHONE] now", "phone"),
        ("Call +49 30 12345678 now", "Call [PHONE] now", "phone"),
        ("Call +44 20 7946 0958 now", "Call [PHONE] now", "phone"),
        ("Call (415) 555-2671 now", "Call [PHONE] now", "phone"),
        ("Ruf an: 030 12345678", "Ruf an: [PHONE]", "phone"),
        ("Mobil 0171/1234567.", "Mobil [PHONE].", "phone"),
        ("Ring 020 7946 0958", "Ring [PHONE]", "phone"),
        # card numbers that pass the Luhn check, in any grouping
        ("Card 4111 1111 1111 1111 expires", "Card [CARD] expires", "card"),
        ("Card 4111-1111-1111-1111", "Card [CARD]", "card"),
        ("Amex 378282246310005.", "Amex [CARD].", "card"),
        # IBANs with a valid mod-97 checksum, grouped or not
        ("IBAN DE89 3704 0044 0532 0130 00 is mine", "IBAN [IBAN] is mine", "iban"),
        ("Pay GB82WEST12345698765432 today", "Pay [IBAN] today", "iban"),
        ("Konto de89370400440532013000", "Konto [IBAN]", "iban"),
        # national ids: US SSN, UK National Insurance number, German tax id (Steuer-ID)
        ("SSN 536-22-1234 on file", "SSN [NATIONAL_ID] on file", "national_id"),
        ("NINO AB 12 34 56 C", "NINO [NATIONAL_ID]", "national_id"),
        ("NI number JG103759A.", "NI number [NATIONAL_ID].", "national_id"),
        ("Steuer-ID 86095742719", "Steuer-ID [NATIONAL_ID]", "national_id"),
        ("Steuer-ID 86 095 742 719", "Steuer-ID [NATIONAL_ID]", "national_id"),
        # right before a citation marker, as stored answers quote them (attack pass, hole 6)
        ("Call +1 415 555 0132 [1].", "Call [PHONE] [1].", "phone"),
        ("Reception: +49 30 5550 1000 [2][3].", "Reception: [PHONE] [2][3].", "phone"),
        ("Write to jane.doe@example.com [1].", "Write to [EMAIL] [1].", "email"),
        ("Card 4111 1111 1111 1111[4].", "Card [CARD][4].", "card"),
        # third attack pass: glued to a word before its "+", alternate endings, full-width forms
        ("the number+1 415 555 0132 [1].", "the number[PHONE] [1].", "phone"),
        ("ID-+1 415 555 0132", "ID-[PHONE]", "phone"),
        ("Call +1 415 555 0132/0133 or", "Call [PHONE] or", "phone"),
        (
            "Call \uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff13\uff12 now",
            "Call [PHONE] now",
            "phone",
        ),
        ("Mail jane\uff20example\uff0ecom now", "Mail [EMAIL] now", "email"),
        # the re-test: typographic spaces, a letter glued after the number, other alternate separators
        ("Is +1\u202f415\u202f555\u202f0177 it", "Is [PHONE] it", "phone"),
        ("Call +1\u00a0415\u00a0555\u00a00177", "Call [PHONE]", "phone"),
        ("Ext +1 415 555 0188x", "Ext [PHONE]x", "phone"),
        ("Call +1 415 555 0166\u20130167 now", "Call [PHONE] now", "phone"),
        ("Call +1 415 555 0166|0167 now", "Call [PHONE] now", "phone"),
        ("Line +1 415 555 0150\u0301 anytime", "Line [PHONE]\u0301 anytime", "phone"),
        ("Desk +1 415 555 0199 ext. 12 on weekdays", "Desk [PHONE] on weekdays", "phone"),
        ("Desk +1 415 555 0199 x12.", "Desk [PHONE].", "phone"),
        ("File Quasar_+1_415_555_0177.md", "File Quasar_[PHONE].md", "phone"),
    ],
)
def test_personal_data_is_replaced_by_its_placeholder(text, expected, kind):
    result = pii_redact(text, kinds=PII_KINDS)

    assert result.text == expected
    assert result.counts == {kind: 1}


@pytest.mark.parametrize(
    "text",
    [
        "Order 4111 1111 1111 1112 shipped",  # card-shaped, fails Luhn
        "Order #1234567812345678 shipped on 2024-01-15",
        "Invoice 2024-0042, version 10.2.3, total 1,234.56 EUR",
        "Ticket 0000000000000000 was closed",  # Luhn-valid but all zeros
        "IBAN DE89 3704 0044 0532 0130 01 has a typo",  # mod-97 fails
        "SSN-like 000-12-3456 and 666-12-3456 are never issued",
        "Prefix GB is not issued: GB 12 34 56 A",
        "Tax id 86095742711 fails its check digit",
        "HMRC sample QQ123456C uses a prefix never issued",
        "Meeting in room 4.12 at 10:30; budget 250000; ISBN 978-3-16-148410-0",
        "Pipe the logs to user@localhost",  # no domain
        # hex ids whose digit runs pass Luhn (a trace id once came out of the log filter as "...[CARD]...")
        "trace 762f47c9cae5e642491144494684f0e6 ended",
        "token kp_4111111111111111x and request a4111111111111111",
    ],
)
def test_look_alike_numbers_and_text_survive(text):
    result = pii_redact(text)

    assert result.text == text
    assert result.counts == {}


def test_several_kinds_in_one_text_are_counted():
    text = (
        "Jane (jane@example.com, +49 30 12345678) paid with 4111 1111 1111 1111 from DE89370400440532013000; "
        "backup contact joe@example.org."
    )

    result = pii_redact(text)

    assert result.text == "Jane ([EMAIL], [PHONE]) paid with [CARD] from [IBAN]; backup contact [EMAIL]."
    assert result.counts == {"email": 2, "phone": 1, "card": 1, "iban": 1}


def test_only_the_chosen_kinds_are_redacted():
    text = "jane@example.com, 4111 1111 1111 1111, +49 30 12345678"

    assert pii_redact(text, kinds=["email"]).text == "[EMAIL], 4111 1111 1111 1111, +49 30 12345678"
    assert pii_redact(text, kinds=["card", "phone"]).text == "jane@example.com, [CARD], [PHONE]"
    assert pii_redact(text, kinds=[]).text == text


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="shoe_size"):
        pii_redact("text", kinds=["email", "shoe_size"])


def test_local_phone_formats_follow_the_configured_regions():
    text = "Ruf an: 030 12345678"

    with override_settings(PII_PHONE_REGIONS=["US"]):
        assert pii_redact(text).text == text
    with override_settings(PII_PHONE_REGIONS=["DE"]):
        assert pii_redact(text).text == "Ruf an: [PHONE]"


def test_hostile_formatting_does_not_break_redaction():
    text = "mail\u00a0jane.doe@example.com\u200b, card\t4111 1111 1111 1111\n, iban\nDE89 3704 0044 0532 0130 00"

    result = pii_redact(text)

    assert "jane.doe" not in result.text
    assert "4111" not in result.text
    assert "3704" not in result.text
    assert result.counts == {"email": 1, "card": 1, "iban": 1}


def test_the_tenant_policy_decides(tenant_alpha, tenant_beta):
    text = "Reach jane@example.com or 4111 1111 1111 1111"
    tenant_settings_update(schema_name="alpha", actor=None, pii_kinds=["card"])
    tenant_settings_update(schema_name="beta", actor=None, pii_redaction_enabled=False)

    assert pii_redact_for_tenant(text, schema_name="alpha").text == "Reach jane@example.com or [CARD]"
    assert pii_redact_for_tenant(text, schema_name="beta").text == text
