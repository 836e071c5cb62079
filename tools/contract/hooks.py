"""Schemathesis auth hook: a clinic owner signed in through the API, with TOTP.

Loaded by `st run` through SCHEMATHESIS_HOOKS (tests/clients, schemathesis). The owner
was created through the API by the test (sign-up, verification, sign-in, TOTP
enrolment); the environment names them:

    SALUS_URL                the server
    SALUS_ST_EMAIL           the owner's email
    SALUS_ST_PASSWORD        their password
    SALUS_ST_TOTP_URI        their authenticator (otpauth:// URI)
    SALUS_ST_RECOVERY_CODES  comma-separated recovery codes
    SALUS_ST_LAST_STEP       the TOTP step the enrolment used

Access tokens are short-lived, and the run calls operations that end the session
(logout, revoking sessions), replace the recovery codes or start a new TOTP enrolment.
Schemathesis asks this provider again on a 401 (`retry_on`); it then:

1. exchanges the refresh token (the session is still alive: no second factor);
2. else signs in again with the password and a second factor: a TOTP code of a step not
   used yet (the server accepts each step once, and one step either side of now), else a
   recovery code, else it waits for the next step;
3. after a sign-in, replaces the recovery codes (the fresh MFA check allows it), so
   the next sign-ins need not wait for a TOTP step;
4. when the server asks for an enrolment again (`403 mfa_enrollment_required`, or a
   sign-in that asks for no second factor: the run started a new TOTP enrolment, which
   drops the confirmed authenticator), enrols a new authenticator with the session.
5. keeps the run from locking its own principal out: the stateful phase learns the
   owner's email from the answers (GET /me, GET /staff) and sends it to
   POST /auth/login with made-up passwords; after 5 such failures the server delays
   every sign-in of that account and after 10 locks it for 15 minutes (per-account
   lock-out, tested in tests/api/brute_force.rs), which would end the run's
   authenticated testing. Such a request is sent with another, unknown email
   instead: the operation is still fuzzed, the lock-out is not.

Nothing secret is printed: only counts, at exit.
"""

from __future__ import annotations

import ast
import atexit
import re
import os
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import pyotp
import requests
import schemathesis

STEP = 30
TIMEOUT = 10


def _serialise_ast_parsing() -> None:
    """Works around CPython gh-106905 on the interpreters that have it.

    Before 3.11.8 and 3.12.2 the AST constructor keeps its recursion depth in state
    shared by the whole interpreter, so two threads building ASTs at once (`--workers
    2`: Hypothesis parses sources with `ast.parse` for its constants and lambda
    descriptions) can fail one of them with `SystemError: AST constructor recursion
    depth mismatch`, which schemathesis reports as a runtime error of whichever
    operation was being generated (it failed a clean-clone CI run on
    `GET /api/v1/audit-events`). Hypothesis and schemathesis call `ast.parse` through
    the module, so one lock around it serialises them; fixed interpreters keep the
    original.
    """
    version = sys.version_info[:3]
    if version >= (3, 12, 2) or (3, 11, 8) <= version < (3, 12, 0):
        return
    parse = ast.parse
    lock = threading.Lock()

    def serialised_parse(*args: Any, **kwargs: Any) -> ast.AST:
        with lock:
            return parse(*args, **kwargs)

    ast.parse = serialised_parse


_serialise_ast_parsing()


class SignInFailed(RuntimeError):
    """The principal could not get a working token."""


class Principal:
    """The owner the run acts as, and how to get them a token."""

    def __init__(self) -> None:
        self.base = os.environ["SALUS_URL"].rstrip("/")
        self.email = os.environ["SALUS_ST_EMAIL"]
        self.password = os.environ["SALUS_ST_PASSWORD"]
        self.totp = pyotp.parse_uri(os.environ["SALUS_ST_TOTP_URI"])
        self.recovery = [c for c in os.environ.get("SALUS_ST_RECOVERY_CODES", "").split(",") if c]
        self.last_step = int(os.environ.get("SALUS_ST_LAST_STEP", "0"))
        self.access: str | None = None
        self.refresh: str | None = None
        self.http = requests.Session()
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def _post(self, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.http.post(f"{self.base}{path}", json=body, headers=headers, timeout=TIMEOUT)

    @staticmethod
    def _code_of(response: requests.Response) -> str:
        try:
            return str(response.json().get("code"))
        except ValueError:
            return "-"

    def token(self) -> str:
        try:
            return self._token()
        except Exception as error:
            self.counts[f"token fetch failed ({error})"] += 1
            raise

    def _token(self) -> str:
        with self.lock:
            if self.refresh is not None:
                refreshed = self._post("/api/v1/auth/refresh", {"refresh_token": self.refresh})
                if refreshed.status_code == 200:
                    self.counts["refreshed"] += 1
                    return self._keep(refreshed.json())
                self.counts[f"refresh refused ({refreshed.status_code})"] += 1
                self.refresh = None
            return self._sign_in()

    def _keep(self, tokens: dict[str, Any]) -> str:
        self.access = tokens["access_token"]
        self.refresh = tokens["refresh_token"]
        return self.access

    def _factor(self) -> dict[str, str]:
        while True:
            now = int(time.time()) // STEP
            if self.last_step < now + 1:
                step = max(self.last_step + 1, now)
                self.last_step = step
                self.counts["totp codes"] += 1
                return {"code": self.totp.at(step * STEP)}
            if self.recovery:
                self.counts["recovery codes"] += 1
                return {"recovery_code": self.recovery.pop()}
            self.counts["waited for a TOTP step"] += 1
            time.sleep(max(0.0, self.last_step * STEP - time.time()) + 0.5)

    def _sign_in(self) -> str:
        failures = []
        for _ in range(12):
            login = self._post("/api/v1/auth/login", {"email": self.email, "password": self.password})
            if login.status_code == 429:
                time.sleep(float(login.headers.get("Retry-After", "1")))
                continue
            if login.status_code != 200:
                raise SignInFailed(f"sign-in answered {login.status_code} {self._code_of(login)}")
            body = login.json()
            if body.get("status") == "authenticated":
                # No second factor asked: the authenticator was dropped (a new enrolment
                # was started). Enrol a new one with this enrolling session.
                self._keep(body)
                try:
                    self._enrol(self.access)
                except SignInFailed as error:
                    failures.append(str(error))
                    continue
                return self.access
            if body.get("status") != "mfa_required":
                raise SignInFailed(f"sign-in status {body.get('status')}")
            factor = self._factor()
            mfa = self._post("/api/v1/auth/mfa", {"mfa_token": body["mfa_token"], **factor})
            if mfa.status_code == 200:
                self.counts["signed in"] += 1
                self._keep(mfa.json())
                self._replenish()
                return self.access
            failures.append(f"{next(iter(factor))}: {mfa.status_code} {self._code_of(mfa)}")
            if "recovery_code" in factor:
                # The run replaced the codes: the rest of this batch is stale too.
                self.recovery.clear()
        raise SignInFailed("no second factor worked: " + "; ".join(failures))

    def _replenish(self) -> None:
        codes = self._post("/api/v1/me/mfa/recovery-codes", token=self.access)
        if codes.status_code == 200:
            self.recovery = list(codes.json()["recovery_codes"])
        else:
            self.counts[f"recovery codes not replaced ({codes.status_code})"] += 1

    def enrol_again(self, token: str) -> None:
        """Enrols a new authenticator, the server having dropped the confirmed one."""
        with self.lock:
            me = self.http.get(f"{self.base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
            if me.status_code == 403 and self._code_of(me) == "mfa_enrollment_required":
                self._enrol(token)

    def _enrol(self, token: str) -> None:
        # The run's own POST /me/mfa/totp may replace the secret between our start and
        # our confirmation (an account in enrolment needs no step-up for it): try again.
        failure = ""
        for _ in range(5):
            start = self._post("/api/v1/me/mfa/totp", token=token)
            if start.status_code != 200:
                raise SignInFailed(f"a new enrolment answered {start.status_code} {self._code_of(start)}")
            totp = pyotp.parse_uri(start.json()["otpauth_uri"])
            now = int(time.time()) // STEP
            confirm = self._post("/api/v1/me/mfa/totp/confirm", {"code": totp.at(now * STEP)}, token=token)
            if confirm.status_code == 200:
                self.totp = totp
                self.last_step = now
                self.recovery = list(confirm.json()["recovery_codes"])
                self.counts["enrolled again"] += 1
                return
            failure = f"confirming the new enrolment answered {confirm.status_code} {self._code_of(confirm)}"
            self.counts["enrolment raced"] += 1
        raise SignInFailed(failure)

    def report(self) -> None:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.counts.items())) or "none"
        print(f"salus auth hook: {counts}", file=sys.stderr)


PRINCIPAL = Principal()
atexit.register(PRINCIPAL.report)


@schemathesis.auth(refresh_interval=600)
class SalusOwner:
    """Bearer token of the owner; fetched again when a request answers 401."""

    def get(self, case: Any, ctx: Any) -> str:
        return PRINCIPAL.token()

    def set(self, case: Any, data: str, ctx: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Keeps the cursors the server issues; enrols again when the run's own calls
    dropped the authenticator."""
    if response.status_code == 200 and b'"next_cursor"' in response.content:
        try:
            cursor = response.json().get("next_cursor")
        except ValueError:
            cursor = None
        if isinstance(cursor, str):
            ISSUED_CURSORS.setdefault(_list_key(case), []).append(cursor)
    if response.status_code != 403 or b'"mfa_enrollment_required"' not in response.content:
        return
    authorization = (case.headers or {}).get("Authorization", "")
    if authorization.startswith("Bearer "):
        try:
            PRINCIPAL.enrol_again(authorization.removeprefix("Bearer "))
        except SignInFailed as error:
            PRINCIPAL.counts[f"enrolment failed ({error})"] += 1


#: The cursors the server gave out, by list (path template and path parameters:
#: a patient's access log is a list of its own), newest last.
ISSUED_CURSORS: dict[str, list[str]] = {}


def _list_key(case: Any) -> str:
    parameters = sorted((getattr(case, "path_parameters", None) or {}).items())
    return f"{case.operation.path} {parameters}"


def _is_positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    mode = getattr(getattr(meta, "generation", None), "mode", None)
    return bool(getattr(mode, "is_positive", False))


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


IF_MATCH = re.compile(r'^(?:\*|(?:W/)?"v[0-9]{1,9}")$')


def _current_version(case: Any) -> None:
    """A change must name the version it is made against, which only the server
    knows (any of the run's calls may have moved it on): a well-formed `If-Match`
    becomes `*`, whatever version is current, in every phase. A malformed one is
    left as generated, to be refused. (tests/api/concurrency.rs covers versions.)"""
    headers = getattr(case, "headers", None)
    if not headers:
        return
    for name in list(headers.keys()):
        value = headers[name]
        if name.lower() == "if-match" and isinstance(value, str) and IF_MATCH.match(value):
            headers[name] = "*"


IDEMPOTENCY_KEY = re.compile(
    r'^("([\x20-\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"|[\x21\x23-\x5B\x5D-\x7E]{1,255})$'
)


def _fresh_idempotency_key(case: Any) -> None:
    """A key promises that two requests are one: the first answer is replayed
    for the same key and body for 24 hours, and the key with another body is
    refused (422). Generated keys repeat (the shortest, such as `0`, most) across
    unrelated requests, and a replay may name a resource a later call removed,
    so a well-formed key becomes a new UUID in every phase; a malformed one is
    left as generated, to be refused. (tests/api/idempotency.rs covers replays.)"""
    headers = getattr(case, "headers", None)
    if not headers:
        return
    for name in list(headers.keys()):
        value = headers[name]
        if name.lower() == "idempotency-key" and isinstance(value, str) and IDEMPOTENCY_KEY.match(value):
            headers[name] = str(uuid.uuid4())


def _keep_within_rules(case: Any) -> None:
    """Rules the server checks that JSON Schema cannot state, applied to the
    schema-valid cases (the schema-invalid ones are left as generated):

    - a cursor is one the server issued for that list (it is sealed);
    - a birth date is a past date after 1880 (it depends on today);
    - a working-hours interval ends after it starts;
    - an interval ends after it starts (`ends_at` > `starts_at`), and an
      availability window (`to` after `from`) spans at most 31 days (two fields
      compared with each other).
    """
    body = case.body if isinstance(case.body, dict) else None
    if body is not None and isinstance(body.get("birth_date"), str):
        try:
            born = date.fromisoformat(body["birth_date"])
        except ValueError:
            born = None
        if born is not None and not (date(1880, 1, 1) <= born <= date.today()):
            body["birth_date"] = date(1980 + born.year % 40, born.month, min(born.day, 28)).isoformat()
    if body is not None:
        starts, ends = _instant(body.get("starts_at")), _instant(body.get("ends_at"))
        if starts is not None and ends is not None and ends <= starts:
            body["ends_at"] = (starts + timedelta(minutes=30)).isoformat()
    if body is not None and isinstance(body.get("hours"), list):
        for interval in body["hours"]:
            if (
                isinstance(interval, dict)
                and isinstance(interval.get("starts"), str)
                and isinstance(interval.get("ends"), str)
                and interval["ends"] <= interval["starts"]
            ):
                interval["starts"], interval["ends"] = "09:00", "17:00"
    query = case.query if isinstance(case.query, dict) else None
    if query is not None and "cursor" in query:
        # A cursor is sealed by the server: only one it issued for this list is valid.
        issued = ISSUED_CURSORS.get(_list_key(case))
        if query["cursor"] not in (issued or []):
            if issued:
                query["cursor"] = issued[-1]
            else:
                del query["cursor"]
    if query is not None and case.operation.path.endswith("/availability"):
        start, end = _instant(query.get("from")), _instant(query.get("to"))
        if start is not None and (end is None or end <= start or end - start > timedelta(days=31)):
            query["to"] = (start + timedelta(days=1)).isoformat()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    """Keeps schema-valid cases within the server's cross-field rules, and sends a
    made-up password for the principal's email to another email (see 5.)."""
    _current_version(case)
    _fresh_idempotency_key(case)
    if _is_positive(case):
        _keep_within_rules(case)
    if case.operation.path != "/api/v1/auth/login" or not isinstance(case.body, dict):
        return
    email = case.body.get("email")
    if (
        isinstance(email, str)
        and email.strip().lower() == PRINCIPAL.email.lower()
        and case.body.get("password") != PRINCIPAL.password
    ):
        case.body["email"] = "someone.else@clinic.test"
        PRINCIPAL.counts["wrong passwords for the principal sent elsewhere"] += 1
