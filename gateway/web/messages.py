"""Every message a service or the gateway sends reaches the user in their language.

The services speak English (`{"error": CODE, "message": ...}`); the pages translate: a known
message through the catalogs (each one is listed here so Babel extracts it), an unknown one
through its error code, so nothing reaches a Romanian page in English.
"""
from __future__ import annotations

import re
from typing import Callable


def N_(message: str) -> str:
    """Marks a message for extraction; translated when shown."""
    return message


KNOWN = frozenset({
    # gateway
    N_("missing bearer access token"), N_("invalid access token"), N_("this session has ended; sign in again"),
    N_("complete two-factor authentication first"), N_("enrol a second factor first"),
    N_("your role requires two-factor authentication"), N_("your role may not use this endpoint"),
    N_("no access rule is defined for this route"), N_("sign in first"), N_("your role may not do this"),
    N_("this API client's scopes do not allow this endpoint"), N_("this API client's scopes do not allow this"),
    N_("access token expired"), N_("authentication required"),
    N_("this action requires a second authentication factor"), N_("email is not a valid address"),
    N_("this API client is sending too many requests; slow down"),
    N_("your session has expired; sign in again"),
    N_("the form has expired or did not come from this site; reload the page and try again"),
    N_("the message broker is unreachable; try again shortly"),
    N_("a service did not answer in time; try again shortly"), N_("a service is not running; try again shortly"),
    N_("internal error; quote the request id to support"),
    # auth
    N_("invalid email or password"),
    N_("this account is locked after too many failed attempts; ask your administrator to unlock it"), N_("that code is not valid"),
    N_("that code is not valid; check the time on your device and try again"),
    N_("the current password is not correct"), N_("this link is invalid or has expired; ask for a new one"),
    N_("invalid or expired refresh token; sign in again"), N_("no second factor is pending for this session"),
    N_("no phone number is enrolled for this account"), N_("start SMS enrolment first"),
    N_("start TOTP enrolment first"), N_("TOTP is not enabled"), N_("enrol a second factor first"),
    N_("phone must be a number in international format, e.g. +40712345678"),
    N_("the text message could not be sent; try again or use another method"),
    N_("too many codes sent in the last hour; try again later or use another method"),
    N_("verify your existing second factor first"), N_("sign in again to change your second factor"),
    N_("your role requires a second factor; enrol another one before removing this one"),
    N_("an account with this e-mail already exists; send it an invitation instead"),
    N_("that e-mail address is already used by another account"),
    N_("this account already has that role in this institution"), N_("this email belongs to another person"),
    N_("this parent is already linked to this pupil"), N_("only administrators create accounts"),
    N_("only administrators invite"), N_("only administrators link parents to pupils"),
    N_("only administrators manage API clients"), N_("only the platform operator creates institutions"),
    N_("you may only manage your own institution"), N_("you have no access to that institution"),
    N_("password is required for a new account"), N_("scopes must be a non-empty list"),
    N_("institution not found"), N_("user not found"), N_("API client not found"),
    N_("parent account not found in this institution"), N_("pupil not found in this institution"),
    # catalog
    N_("a class with that name already exists in that school year"),
    N_("a subject with that name already exists"), N_("the student is already in this class"),
    N_("the teacher is already assigned to this class and subject"), N_("administrators may not record grades"),
    N_("parents see only their own children's grades"), N_("students see only their own grades"),
    N_("you do not teach this subject in this class"), N_("your role may not read grades"),
    N_("grade must be a whole number from 1 to 10"), N_("awarded_on cannot be in the future"),
    N_("awarded_on must be a date YYYY-MM-DD"), N_("that account is not a teacher in this school"),
    N_("student not found in this class"), N_("weekly_hours must be a whole number from 1 to 20"),
    N_("only the class's homeroom teacher motivates absences"), N_("a medical motivation needs the document's reference"),
    N_("occurred_on cannot be in the future"), N_("that date falls outside the periods of the school year"),
    N_("the student is not in this class on that date"), N_("no unmotivated absence of this pupil matches"),
    N_("some of these absences are in a closed period"), N_("the range holds no school day"),
    N_("the range must fall inside one period"), N_("to_date comes before from_date"),
    N_("the pupil was in no class of this school on those days"), N_("parents ask only for their own children"),
    N_("a cancelled grade cannot be changed"), N_("the grade is already cancelled"),
    N_("the period is already closed"), N_("the period is open; no amendment is needed"),
    N_("you do not teach in this class"), N_("your role may not read a class's catalog"),
    N_("your role may not read report cards"), N_("subject not found in this class"), N_("class not found"),
    N_("grade not found"), N_("period not found"), N_("delegation not found"), N_("motivation request not found"),
    # registry
    N_("CNP check digit is wrong"), N_("CNP county code is not valid"), N_("CNP encodes an impossible birth date"),
    N_("CNP must be exactly 13 digits"), N_("CNP must not start with 0"), N_("birth_date does not match the CNP"),
    N_("this person is already registered by your institution"), N_("person not found"),
    # data-subject rights (auth)
    N_("you may export only your own data or your own child's"), N_("export not found"),
    N_("this download link is not valid; read the export again for a new one"),
    N_("this file was already downloaded; a download link works once (request a new export)"),
    N_("this download link has expired; request a new export"),
    N_("you may ask this only for yourself or for your own child"), N_("this institution has no privacy notice"),
    N_("only the school's administrator exports another account's data"),
    # rectification: grade disputes (grades) and registry data (registry)
    N_("proposed_value must be a whole number from 1 to 10"), N_("propose a value or a qualifier, not both"),
    N_("parents dispute only their own children's grades"), N_("students dispute only their own grades"),
    N_("a cancelled grade cannot be disputed"), N_("this grade already has a dispute that is not decided finally"),
    N_("the subject's teacher decides first; the director decides only an escalated dispute"),
    N_("only the subject's teacher decides this dispute"), N_("an escalated dispute is decided by the director"),
    N_("the teacher has rejected this dispute; only the requester may escalate it now"),
    N_("this dispute has been decided finally"),
    N_("the dispute proposes no value: send the corrected value (or qualifier)"),
    N_("only the person who opened the dispute may escalate it"),
    N_("only a dispute the teacher has rejected can be escalated (once)"), N_("grade dispute not found"),
    N_("you may ask to rectify only your own record or your child's"),
    N_("rectification request not found"), N_("this CNP belongs to another person in the registry"),
    N_("a rectification of ethnicity, medical or social situation is decided by the registrar"),
    N_("a CNP cannot be removed"),
    N_("processing of this person's data is already restricted; lift the restriction first"),
    N_("processing of this person's data is not restricted"),
    # the pages' own
    N_("check the highlighted fields"), N_("the two passwords are not the same"),
    # web-school: delegations, conduct, closing the year, documents, audit history, backups
    N_("a delegation is for another teacher"), N_("ends_on comes before starts_on"), N_("ends_on is already past"),
    N_("a delegation lasts at most a year"), N_("the delegation is no longer in force"),
    N_("only the director or the teacher who asked for it revokes a delegation"),
    N_("only the class's homeroom teacher proposes conduct grades"),
    N_("conduct grade must be a whole number from 1 to 10"),
    N_("the period is closed; conduct grades can change only after the director reopens it"),
    N_("the school year is already closed"), N_("school year not found"),
    N_("no history is kept for that kind of record"), N_("job not found"),
    N_("only the director generates the school's year-end set"),
    N_("only the director and the class's homeroom teacher may print its documents"),
})

BY_CODE = {
    "invalid_input": N_("Some of what you entered is not valid; check it and try again."),
    "malformed_json": N_("Some of what you entered is not valid; check it and try again."),
    "not_authenticated": N_("Sign in to continue."),
    "second_factor_required": N_("Confirm your second factor to continue."),
    "forbidden": N_("You are not allowed to do this."),
    "not_found": N_("We could not find what you asked for."),
    "conflict": N_("This already exists or clashes with an existing record."),
    "rate_limited": N_("Too many attempts; wait a little and try again."),
    "service_unavailable": N_("The service is temporarily unavailable; try again in a few moments."),
    "method_not_allowed": N_("This page cannot be used that way."),
    "payload_too_large": N_("What you sent is too large."),
    "internal": N_("Something went wrong on our side; try again, and tell support if it happens again."),
}
FALLBACK = N_("Something went wrong; try again.")


# messages with a value in them: the pattern, and the template the catalogs translate
PATTERNS = (
    (re.compile(r"^too many failed attempts; try again in (?P<n>\d+) seconds$"),
     N_("too many failed attempts; try again in %(n)s seconds")),
    (re.compile(r"^(?P<field>[a-z_]+) is required$"), N_("%(field)s is required")),
    (re.compile(r"^an absence is already recorded for (?P<n>\d+) of these pupils at that hour$"),
     N_("an absence is already recorded for %(n)s of these pupils at that hour")),
    (re.compile(r"^(?P<n>\d+) warnings; review them and send confirm=true to close the period anyway$"),
     N_("%(n)s warnings; read them and confirm to close the period anyway")),
    (re.compile(r"^the (request|delegation) is already (?P<status>[a-z]+)$"),
     N_("this was already decided (%(status)s)")),
    (re.compile(r"^parents may ask for at most (?P<n>\d+) school days per (?P<scope>year|period); (?P<left>-?\d+) remain$"),
     N_("parents may ask for at most %(n)s school days; %(left)s remain")),
    (re.compile(r"^the grade has changed since version (?P<n>\d+); it is now version (?P<m>\d+)"),
     N_("the grade has changed since you opened the page (now version %(m)s); reload it")),
    (re.compile(r"^(?P<field>[a-z_]+) is longer than (?P<n>\d+) characters$"),
     N_("%(field)s is longer than %(n)s characters")),
    (re.compile(r"^(?P<field>[a-z_]+) contains control characters$"), N_("%(field)s contains control characters")),
    (re.compile(r"^'(?P<field>[a-z_.]+)' is not a field of the person record"),
     N_("%(field)s is not a field of the person record")),
    (re.compile(r"^this rectification request was already (?P<status>[a-z]+)$"),
     N_("this was already decided (%(status)s)")),
    (re.compile(r"^version \d+ is not the current privacy notice \(version (?P<n>\d+)\); read it again$"),
     N_("the privacy notice has changed (now version %(n)s); read it again")),
    # web-school
    (re.compile(r"^(?P<n>\d+) warnings; review them and send confirm=true to close the school year anyway$"),
     N_("%(n)s warnings; read them and confirm to close the school year anyway")),
    (re.compile(r"^the set is still being generated \((?P<progress>\d+/\d+) classes\)$"),
     N_("the set is still being generated (%(progress)s classes); wait a little")),
)


def translate_error(gettext: Callable[[str], str], code: str, message: str) -> str:
    if message in KNOWN:
        return gettext(message)
    for pattern, template in PATTERNS:
        m = pattern.match(message)
        if m:
            return gettext(template) % m.groupdict()
    return gettext(BY_CODE.get(code, FALLBACK))
