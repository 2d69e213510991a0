"""The one number policy every outbound call and text passes (protection against toll fraud).

A hotline that calls back whoever asks can be made to dial premium-rate, satellite or foreign
numbers at the centre's cost ("callback toll fraud", "SMS pumping"): a text saying 回电 from a
foreign number, or a spoofed foreign caller ID that waits in the queue and hangs up, used to make
the clock dial abroad up to four times. So before anything is dialled or texted:

1. the number must be a valid E.164 number (phonenumbers' metadata for its country);
2. its calling code must be in the allowed list (`OUTBOUND_ALLOWED_COUNTRY_CODES`, default 86);
3. it must not be a non-geographic "country" (satellite and international networks: +870,
   +881, +882, +883 ...), whatever the allowed list says;
4. it must not be of a type that costs the caller's side money or reaches no person:
   premium rate, shared cost (China's 400/800 numbers), personal numbers, pagers, UAN, voicemail.

Daily caps (per number, per line) are counted by the features that place calls and texts,
because only they know what was placed; this module is pure and has no database.
`client:` identities (an operator's browser) are not phone numbers and are not dialled through
the PSTN, so they pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

#: Number types never called or texted: they cost money or reach no person.
REFUSED_TYPES: dict[int, str] = {
    PhoneNumberType.PREMIUM_RATE: "premium-rate number",
    PhoneNumberType.SHARED_COST: "shared-cost number",
    PhoneNumberType.PERSONAL_NUMBER: "personal (forwarding) number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "universal access number",
    PhoneNumberType.VOICEMAIL: "voicemail access number",
}

#: Emergency short codes (110 police, 119 fire, 120 ambulance, 122 traffic): never called back or
#: texted, but an operator may bring them into a caller's conversation (an external transfer).
EMERGENCY_SHORT_CODES = frozenset({"110", "119", "120", "122"})

#: phonenumbers' region code for numbers that belong to no country (satellite, global networks).
NON_GEOGRAPHIC_REGION = "001"


@dataclass(frozen=True)
class NumberPolicy:
    """Which numbers the hotline may call or text (read once from config)."""

    #: Calling codes outbound calls and texts may go to (86: mainland China).
    allowed_country_codes: tuple[int, ...] = (86,)

    def refusal(self, number: str | None) -> str | None:
        """Why `number` may not be called or texted, in plain words; None when it may."""
        if not number:
            return "no number"
        if number.startswith("client:"):
            return None
        if not number.startswith("+"):
            return "not an E.164 number"
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return "not a phone number"
        if phonenumbers.region_code_for_number(parsed) == NON_GEOGRAPHIC_REGION:
            return f"+{parsed.country_code} is a satellite or non-geographic network"
        if parsed.country_code not in self.allowed_country_codes:
            allowed = ", ".join(f"+{code}" for code in self.allowed_country_codes)
            return f"country code +{parsed.country_code} is not allowed (allowed: {allowed})"
        if not phonenumbers.is_valid_number(parsed):
            return "not a valid number for its country"
        refused_type = REFUSED_TYPES.get(phonenumbers.number_type(parsed))
        if refused_type is not None:
            return refused_type
        return None

    def transfer_refusal(self, number: str | None) -> str | None:
        """Why `number` may not be added to a caller's conversation, or None: the policy above,
        except that the emergency short codes are allowed here (and only here)."""
        if number in EMERGENCY_SHORT_CODES:
            return None
        return self.refusal(number)

    def allows(self, number: str | None) -> bool:
        """True when `number` may be called or texted."""
        return self.refusal(number) is None

    @classmethod
    def from_config(cls, config) -> NumberPolicy:
        """The policy from the app's config (`OUTBOUND_ALLOWED_COUNTRY_CODES`)."""
        codes = config.get("OUTBOUND_ALLOWED_COUNTRY_CODES") or config.get(
            "SMS_ALLOWED_COUNTRY_CODES", (86,)
        )
        return cls(allowed_country_codes=tuple(int(code) for code in codes))
