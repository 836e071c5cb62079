"""Secret scan of the tree and of the whole git history (make supply-chain).

Every finding of detect-secrets must be one the reviewed baseline
(tools/supply-chain/secrets-baseline.json for the tree, secrets-history.json for
values found only in older versions of files) knows and marks as not a secret
(`is_secret: false`: examples, development defaults, test values). The tree is
scanned file by file; the history is scanned blob by blob (every version of every
file ever committed, on any ref), and a finding there must match a baseline entry
by its hashed value. A finding the baseline does not clear fails the run, naming
file, line and kind, never the value.

Usage: check_secrets.py REPO_ROOT DETECT_SECRETS_BIN
"""

import json
import os
import subprocess
import sys
import tempfile

EXCLUDE = r"^(clients/typescript/schema\.d\.ts|openapi/openapi\.json|tools/contract/package-lock\.json|Cargo\.lock|tools/supply-chain/secrets-(baseline|history)\.json)$"


def scan(tool, cwd, *args):
    out = subprocess.run(
        [tool, "scan", "--exclude-files", EXCLUDE, *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["results"]


def main():
    root, tool = sys.argv[1], sys.argv[2]
    with open(os.path.join(root, "tools/supply-chain/secrets-baseline.json")) as f:
        baseline = json.load(f)["results"]
    cleared = {
        s["hashed_secret"]
        for found in baseline.values()
        for s in found
        if s.get("is_secret") is False
    }
    # Values found only in older versions of files (reviewed the same way).
    with open(os.path.join(root, "tools/supply-chain/secrets-history.json")) as f:
        history = json.load(f)
    cleared |= {h["hashed_secret"] for h in history if h.get("is_secret") is False}
    unreviewed = [
        (path, s["line_number"], s["type"])
        for path, found in baseline.items()
        for s in found
        if s.get("is_secret") is not False
    ]
    problems = [f"baseline entry not reviewed: {p}:{n} ({t})" for p, n, t in unreviewed]

    for path, found in scan(tool, root).items():
        for s in found:
            if s["hashed_secret"] not in cleared:
                problems.append(f"tree: {path}:{s['line_number']}: {s['type']}")

    objects = subprocess.run(
        ["git", "rev-list", "--objects", "--all"],
        cwd=root, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    blobs = {}
    for line in objects:
        oid, _, path = line.partition(" ")
        if path:
            blobs.setdefault(oid, path)
    kinds = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        cwd=root, input="\n".join(blobs), check=True, capture_output=True, text=True,
    ).stdout.split("\n")
    blobs = {
        oid: path
        for oid, kind in (k.split(" ") for k in kinds if k)
        if kind == "blob"
        for path in [blobs[oid]]
    }
    with tempfile.TemporaryDirectory() as tmp:
        for oid, path in blobs.items():
            target = os.path.join(tmp, oid, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as f:
                f.write(subprocess.run(
                    ["git", "cat-file", "blob", oid],
                    cwd=root, check=True, capture_output=True,
                ).stdout)
        exclude_history = EXCLUDE.replace("^(", "^[0-9a-f]+/(")
        out = subprocess.run(
            [tool, "scan", "--all-files", "--exclude-files", exclude_history, "."],
            cwd=tmp, check=True, capture_output=True, text=True,
        ).stdout
        for path, found in json.loads(out)["results"].items():
            for s in found:
                if s["hashed_secret"] not in cleared:
                    oid, _, name = path.partition("/")
                    problems.append(
                        f"history: {name} (blob {oid[:12]}):{s['line_number']}: {s['type']}"
                        f" [hashed_secret {s['hashed_secret']}]"
                    )

    print(f"secrets: {len(blobs)} blobs of the history and the tree scanned; "
          f"{len(cleared)} reviewed values in the baseline")
    if problems:
        print("secrets: findings the reviewed baseline does not clear:", file=sys.stderr)
        for p in sorted(set(problems)):
            print(f"  {p}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
