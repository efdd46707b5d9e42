#!/usr/bin/env python3
"""Exact dedup by hand, Python standard library only: the script a user would write instead of curate.

Parses each JSONL line, hashes its canonical JSON (sorted keys, so key order does not matter) with 128-bit
BLAKE2b, keeps the first occurrence. Prints a JSON summary on stdout; with --out, writes the kept lines.

    python3 bench/baselines/dedup.py data/*.jsonl [--out kept.jsonl]
"""

import argparse
import hashlib
import json
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", help="write kept lines here")
    args = parser.parse_args()

    seen = set()
    records = invalid = duplicates = 0
    out = open(args.out, "wb") if args.out else None
    try:
        for path in args.files:
            with open(path, "rb") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    records += 1
                    try:
                        value = json.loads(line)
                    except ValueError:  # JSONDecodeError and invalid UTF-8 both derive from it
                        invalid += 1
                        continue
                    key = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()
                    if digest in seen:
                        duplicates += 1
                        continue
                    seen.add(digest)
                    if out is not None:
                        out.write(line if line.endswith(b"\n") else line + b"\n")
    finally:
        if out is not None:
            out.close()

    summary = {"records": records, "invalid": invalid, "duplicates": duplicates, "kept": len(seen)}
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
