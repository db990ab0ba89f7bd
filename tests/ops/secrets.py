"""Known secrets and personal data: the logging tests push them through every path and grep."""

from __future__ import annotations

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTQyIiwidGVuYW50IjoiYWxwaGEifQ"
    ".Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
)
# Each value is a fragment that must never appear in a log line.
SECRET_VALUES = {
    "anthropic_key": "sk-ant-api03-Qx7vLm2Np9Rt4Wy6Zb8Dc1Fg3Hj5Kk0",
    "openai_key": "sk-proj-Aa11Bb22Cc33Dd44Ee55Ff66",
    "portal_api_key": "kp_0a1b2c3d4e5f_S3cr3tP0rtalKeyMaterial99xYz-_0123456789abcdefgh",
    "jwt": JWT,
    "password": "hunter2-correct-horse",
    "client_secret": "cs-9f8e7d6c5b4a3f2e1d",
    "bearer": "tok4f5e6d7c8b9a0f1e2d",
    "dsn_password": "db-pass-771x",
    "aws_key": "AKIAIOSFODNN7EXAMPLE",
    "email": "jane.doe@example.com",
    "phone": "+49 30 1234 5678",
    "iban": "DE89 3704 0044 0532 0130 00",
    "card": "4111 1111 1111 1111",
    "national_id": "123-45-6789",
}
# How each secret usually shows up: self-describing ones alone, the others next to their name.
IN_CONTEXT = {
    **SECRET_VALUES,
    "password": f"login failed (password={SECRET_VALUES['password']})",
    "client_secret": f'{{"client_secret": "{SECRET_VALUES["client_secret"]}"}}',
    "bearer": f"{{'Authorization': 'Bearer {SECRET_VALUES['bearer']}'}}",
    "dsn_password": f"redis://default:{SECRET_VALUES['dsn_password']}@cache:6379/0",
}
SECRETS_TEXT = (
    f"key={SECRET_VALUES['anthropic_key']} other {SECRET_VALUES['openai_key']} "
    f"X-API-Key: {SECRET_VALUES['portal_api_key']} token {JWT} "
    f"password={SECRET_VALUES['password']} "
    f'{{"client_secret": "{SECRET_VALUES["client_secret"]}"}} '
    f"Authorization: Bearer {SECRET_VALUES['bearer']} "
    f"postgres://portal:{SECRET_VALUES['dsn_password']}@db:5432/portal "
    f"aws {SECRET_VALUES['aws_key']} "
    f"from {SECRET_VALUES['email']} phone {SECRET_VALUES['phone']} iban {SECRET_VALUES['iban']} "
    f"card {SECRET_VALUES['card']} ssn {SECRET_VALUES['national_id']}"
)


def leaked(output: str) -> list[str]:
    """Names of the secrets that appear in the output (an empty list is the only good answer)."""
    return [name for name, value in SECRET_VALUES.items() if value in output]
