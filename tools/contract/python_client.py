"""Parses real sign-in answers with a Python client generated from the contract.

Run by tests/clients (the_generated_python_client_parses_real_sign_in_answers):

    python python_client.py GENERATED_DIR

GENERATED_DIR holds the package `salus_api_client` that openapi-python-client generated
from openapi/openapi.json. The environment names the server (SALUS_URL), the password
(SALUS_PASSWORD), an owner who has not enrolled MFA yet (SALUS_PLAIN_EMAIL: sign-in is
`authenticated`), one who has (SALUS_MFA_EMAIL: sign-in is `mfa_required`) and a sign-up
whose address is not confirmed yet (SALUS_UNVERIFIED_EMAIL: sign-in is
`email_verification_required`). Each check prints what it saw; any failure exits 1.
"""

from __future__ import annotations

import os
import sys
import traceback

checks = 0


def ok(what: str) -> None:
    global checks
    checks += 1
    print(f"ok {checks} - {what}")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    from salus_api_client import Client
    from salus_api_client.api.auth import auth_login
    from salus_api_client.api.health import health_live
    from salus_api_client.models import (
        AuthenticatedStatus,
        EmailVerificationRequiredResponse,
        EmailVerificationRequiredStatus,
        LoginRequest,
        MfaChallengeResponse,
        MfaRequiredStatus,
        Problem,
        ProblemCode,
        TokenResponse,
    )

    password = os.environ["SALUS_PASSWORD"]
    client = Client(base_url=os.environ["SALUS_URL"], raise_on_unexpected_status=True)

    live = health_live.sync_detailed(client=client)
    check(live.status_code == 200, f"GET /health/live answered {live.status_code}")
    check(live.parsed is not None, "the health answer parsed")
    ok(f"GET /health/live parsed as {type(live.parsed).__name__}")

    plain = auth_login.sync_detailed(
        client=client, body=LoginRequest(email=os.environ["SALUS_PLAIN_EMAIL"], password=password)
    )
    check(plain.status_code == 200, f"sign-in answered {plain.status_code}")
    check(isinstance(plain.parsed, TokenResponse), f"sign-in parsed as {type(plain.parsed).__name__}")
    check(plain.parsed.status == AuthenticatedStatus.AUTHENTICATED, f"status {plain.parsed.status}")
    check(len(plain.parsed.access_token) > 20, "an access token")
    check(plain.parsed.token_type == "Bearer", f"token type {plain.parsed.token_type}")
    ok("sign-in of an owner without MFA: LoginResponse parsed as TokenResponse (status authenticated)")

    mfa = auth_login.sync_detailed(
        client=client, body=LoginRequest(email=os.environ["SALUS_MFA_EMAIL"], password=password)
    )
    check(mfa.status_code == 200, f"sign-in answered {mfa.status_code}")
    check(isinstance(mfa.parsed, MfaChallengeResponse), f"sign-in parsed as {type(mfa.parsed).__name__}")
    check(mfa.parsed.status == MfaRequiredStatus.MFA_REQUIRED, f"status {mfa.parsed.status}")
    check(len(mfa.parsed.mfa_token) > 10, "a challenge token")
    ok("sign-in of an enrolled owner: LoginResponse parsed as MfaChallengeResponse (status mfa_required)")

    unverified = auth_login.sync_detailed(
        client=client, body=LoginRequest(email=os.environ["SALUS_UNVERIFIED_EMAIL"], password=password)
    )
    check(unverified.status_code == 200, f"sign-in answered {unverified.status_code}")
    check(
        isinstance(unverified.parsed, EmailVerificationRequiredResponse),
        f"sign-in parsed as {type(unverified.parsed).__name__}",
    )
    check(
        unverified.parsed.status == EmailVerificationRequiredStatus.EMAIL_VERIFICATION_REQUIRED,
        f"status {unverified.parsed.status}",
    )
    ok(
        "sign-in before the address is confirmed: LoginResponse parsed as "
        "EmailVerificationRequiredResponse (status email_verification_required)"
    )

    wrong = auth_login.sync_detailed(
        client=client,
        body=LoginRequest(email=os.environ["SALUS_PLAIN_EMAIL"], password="not the password at all"),
    )
    check(wrong.status_code == 401, f"a wrong password answered {wrong.status_code}")
    check(isinstance(wrong.parsed, Problem), f"the 401 parsed as {type(wrong.parsed).__name__}")
    check(wrong.parsed.code == ProblemCode.INVALID_CREDENTIALS, f"code {wrong.parsed.code}")
    ok("a wrong password: the 401 parsed as Problem (code invalid_credentials)")
    print(f"python client: {checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception:
        print("not ok - " + traceback.format_exc().strip().replace("\n", "\n# "))
        sys.exit(1)
