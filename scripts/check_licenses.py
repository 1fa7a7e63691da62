#!/usr/bin/env python3
"""Licence allow-list for every crate in the dependency graph (the check `cargo deny check
licenses` does, without installing cargo-deny). Reads `cargo metadata`, evaluates each
package's SPDX expression (AND / OR / WITH, parentheses) against ALLOW, and fails on a
package whose licence is missing, unknown or not allowed, or that is on DENY.
Keep ALLOW in step with deny.toml."""
import json
import re
import subprocess
import sys

ALLOW = {
    "MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause", "BSD-3-Clause",
    "MPL-2.0", "ISC", "Unicode-3.0", "Unicode-DFS-2016", "Zlib", "0BSD", "CC0-1.0",
}
DENY = {"rodbus", "dnp3"}


def tokens(expr):
    return re.findall(r"\(|\)|[A-Za-z0-9.+\-]+", expr.replace("/", " OR "))


def allowed(expr):
    """True when the SPDX expression can be satisfied with allowed licences only."""
    toks = tokens(expr)
    pos = 0

    def atom():
        nonlocal pos
        if toks[pos] == "(":
            pos += 1
            v = disj()
            pos += 1  # ')'
            return v
        lic = toks[pos]
        pos += 1
        if pos < len(toks) and toks[pos] == "WITH":
            lic = f"{lic} WITH {toks[pos + 1]}"
            pos += 2
            return lic in ALLOW or lic.split(" WITH ")[0] in ALLOW
        return lic in ALLOW

    def conj():
        nonlocal pos
        v = atom()
        while pos < len(toks) and toks[pos] == "AND":
            pos += 1
            v = atom() and v
        return v

    def disj():
        nonlocal pos
        v = conj()
        while pos < len(toks) and toks[pos] == "OR":
            pos += 1
            v = conj() or v
        return v

    return disj()


def main():
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    workspace = set(meta["workspace_members"])
    bad = []
    for pkg in meta["packages"]:
        if pkg["id"] in workspace:
            continue
        name, lic = pkg["name"], pkg.get("license")
        if name in DENY:
            bad.append(f"{name} {pkg['version']}: banned crate")
        elif not lic:
            bad.append(f"{name} {pkg['version']}: no SPDX licence (licence file: {pkg.get('license_file')})")
        elif not allowed(lic):
            bad.append(f"{name} {pkg['version']}: {lic} is not on the allow-list")
    n = len(meta["packages"]) - len(workspace)
    if bad:
        print("licence check failed:\n  " + "\n  ".join(bad), file=sys.stderr)
        sys.exit(1)
    print(f"licence check: {n} dependencies, all on the allow-list")


if __name__ == "__main__":
    main()
