"""Redacts a schemathesis report directory, then groups its failures by check.

    python st_summary.py REPORT_DIR > summary.md

schemathesis filters credentials out of the requests it prints, not out of the
answers: an answer of the run can hold a TOTP secret, recovery codes or tokens of the
run's principal. Every text file of REPORT_DIR (the JUnit XML, the saved console output)
is rewritten with those replaced by [redacted] first. Then, for each check (ST201,
ST202, ...), the summary lists every operation that failed it, with the status, what
the check said and one request that reproduces it. Run by tests/clients
(schemathesis) so that the failure message is a readable list.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

CASE = re.compile(r"^\d+\. Test Case ID: (\S+)", re.M)
CHECK = re.compile(r"^- (.+)$", re.M)
STATUS = re.compile(r"^\[(\d{3})\] (.*):$", re.M)
CURL = re.compile(r"^    (curl .+)$", re.M)
COMPONENT = re.compile(r"^    (Invalid component: .+)$", re.M)


SECRETS = [
    (re.compile(r"secret=[A-Z2-7]+"), "secret=[redacted]"),
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), "[redacted]"),
    (re.compile(r"\b[a-hj-km-np-z2-9]{5}-[a-hj-km-np-z2-9]{5}\b"), "[redacted]"),
    (
        re.compile(r'(\\?"(?:access_token|refresh_token|mfa_token|otpauth_uri|qr_svg)\\?"\s*:\s*\\?")[^"\\]*'),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in SECRETS:
        text = pattern.sub(replacement, text)
    return text


def reason(item: str) -> str:
    """The most telling line of one failure."""
    component = COMPONENT.search(item)
    if component:
        return component.group(1)
    body = re.search(r"^    `(\{.*\})`$", item, re.M)
    if body:
        try:
            problem = json.loads(body.group(1))
            errors = problem.get("errors") or []
            if errors:
                first = errors[0]
                return f"{problem.get('code')}: {first.get('field')} {first.get('code')} ({first.get('message')})"
            return f"{problem.get('code')}: {problem.get('detail')}"
        except (ValueError, AttributeError):
            return body.group(1)[:200]
    lines = [
        line.strip()
        for line in item.splitlines()
        if line.strip() and not line.startswith(("- ", "[", "Reproduce")) and not CASE.match(line)
    ]
    return " / ".join(lines[:3])[:300]


def failures(path: str):
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        operation = case.get("name", "?")
        for node in list(case.findall("failure")) + list(case.findall("error")):
            text = node.text or node.get("message", "")
            # One <failure> may hold several numbered cases, each with one or more checks.
            items = CASE.split(text)
            if len(items) == 1:
                yield (node.tag, node.get("message", "error"), operation, "", reason(text), "")
                continue
            for i in range(1, len(items), 2):
                body = items[i + 1]
                status = STATUS.search(body)
                curl = CURL.search(body)
                checks = CHECK.findall(body) or [node.get("message", "?")]
                for check in checks:
                    yield (
                        node.tag,
                        check,
                        operation,
                        f"{status.group(1)} {status.group(2)}" if status else "",
                        reason(body),
                        curl.group(1) if curl else "",
                    )


def main() -> None:
    report_dir = pathlib.Path(sys.argv[1])
    for path in report_dir.iterdir():
        if path.suffix in (".xml", ".txt", ".json"):
            path.write_text(redact(path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
    junit = sorted(report_dir.glob("junit*.xml"))
    if not junit:
        print(f"# schemathesis wrote no JUnit report in {report_dir}")
        return
    grouped: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for kind, check, operation, status, why, curl in failures(str(junit[-1])):
        key = check if kind == "failure" else f"error: {check}"
        grouped[key].append((operation, status, why, curl))
    total = sum(len(v) for v in grouped.values())
    print(f"# schemathesis: {total} failures in {len(grouped)} checks\n")
    for check in sorted(grouped, key=lambda k: (-len(grouped[k]), k)):
        entries = grouped[check]
        print(f"## {check} ({len(entries)})\n")
        for operation, status, why, curl in sorted(entries):
            print(f"- `{operation}` -> {status or '-'}: {why}")
            if curl:
                print(f"  `{curl}`")
        print()


if __name__ == "__main__":
    main()
