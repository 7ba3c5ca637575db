"""Pure security rules of the auth service (target: OWASP ASVS 5.0 level 2).

Every module here is deliberately free of broker, web and database imports so
the rules can be unit-tested in isolation and reused by any entry point.  The
service layer owns persistence (counters, hashes, used steps) and calls these
functions with plain values.

Modules:
    passwords       argon2id hashing, transparent rehash, password policy
    totp            RFC 6238 TOTP with replay protection, provisioning URI, QR
    secretbox       AES-256-GCM encryption of small secrets at rest (in services.kernel)
    otp_codes       SMS / e-mail one-time codes and their verification rules
    recovery_codes  one-time MFA recovery codes
    throttle        login back-off and lockout policy
    tokens          opaque high-entropy tokens (refresh, reset, invitation ...)

Nothing is re-exported here on purpose: importing the package must stay cheap
(the common-password list and QR/PIL machinery load only when used).
"""
