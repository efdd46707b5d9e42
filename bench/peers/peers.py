#!/usr/bin/env python3
"""The tools a user would pick instead of curate, run on the benchmark corpus: one row per call.

    python peers.py tiktoken-o200k CORPUS_JSON --encoders DIR          # the `tiktoken` npm package's encoders/
    python peers.py hf-tokenizers-llama3 CORPUS_JSON --tokenizer-json FILE
    python peers.py duckdb-exact CORPUS_JSON
    python peers.py polars-exact CORPUS_JSON

Runs under the peers' venv (bench/peers/venv.mjs), never as a dependency of curate. Prints one JSON line on stdout:
`ms` (the measured work: imports excluded; reading, parsing, tokenizer construction and dedup included, as in
curate's in-process rows), counts to compare with curate's, and the peer's version. Threads: 2, the cores these
rows are compared on (curate's rows use 2 threads too).
"""

import argparse
import base64
import json
import os
import resource
import sys
import time

THREADS = 2
# Texts per encode call: large enough for the Rust thread pools to stay busy, small enough that the token lists of
# one batch (Python ints) never hold much memory. curate's rows keep 512-text batches in flight the same way.
BATCH = 4096


def strings_of(value, out):
    """Every string value in a record, depth first, in key order: exactly what curate's engine rows count."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            strings_of(item, out)
    elif isinstance(value, dict):
        for item in value.values():
            strings_of(item, out)


def text_batches(files, stats):
    """The string values of every parseable line, in batches; counts records, invalid lines and texts in `stats`."""
    batch = []
    for path in files:
        with open(path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:  # JSONDecodeError and invalid UTF-8 both derive from it
                    stats["invalid"] += 1
                    continue
                stats["records"] += 1
                before = len(batch)
                strings_of(record, batch)
                stats["texts"] += len(batch) - before
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
    if batch:
        yield batch


def tiktoken_encoding(encoders, name):
    """
    tiktoken's `Encoding` built from the npm package's `encoders/<name>.json`: the rank files tiktoken would download
    are not reachable here. `bpe_ranks` is space-separated runs `<label> <first rank> <base64 token> ...`, each run's
    tokens having consecutive ranks (the format the npm package's own loader reads).
    """
    import tiktoken

    with open(os.path.join(encoders, f"{name}.json"), encoding="utf-8") as handle:
        data = json.load(handle)
    ranks = {}
    for line in data["bpe_ranks"].split("\n"):
        parts = line.split(" ")
        if len(parts) < 2:
            continue
        first = int(parts[1])
        for offset, token in enumerate(parts[2:]):
            ranks[base64.b64decode(token)] = first + offset
    specials = data["special_tokens"]
    if isinstance(specials, str):  # stored as a Python-literal string in some versions of the package
        import ast

        specials = ast.literal_eval(specials)
    return tiktoken.Encoding(name=name, pat_str=data["pat_str"], mergeable_ranks=ranks, special_tokens=specials)


def run_tiktoken(files, args):
    import tiktoken

    started = time.perf_counter()
    encoding = tiktoken_encoding(args.encoders, args.encoding)
    stats = {"records": 0, "invalid": 0, "texts": 0}
    tokens = 0
    for batch in text_batches(files, stats):
        # encode_ordinary: special-token strings in the text are plain text, as curate's o200k engine counts them.
        for ids in encoding.encode_ordinary_batch(batch, num_threads=THREADS):
            tokens += len(ids)
    ms = (time.perf_counter() - started) * 1000
    return {"ms": ms, "tokens": tokens, **stats, "version": f"tiktoken {tiktoken.__version__}"}


def run_hf_tokenizers(files, args):
    # The Rust thread pool reads these before it starts; set here so the row does not depend on the caller's env.
    os.environ["RAYON_NUM_THREADS"] = str(THREADS)
    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    import tokenizers

    started = time.perf_counter()
    tokenizer = tokenizers.Tokenizer.from_file(args.tokenizer_json)
    stats = {"records": 0, "invalid": 0, "texts": 0}
    tokens = 0
    for batch in text_batches(files, stats):
        # No BOS and no chat template: the text alone, as curate's engine counts it.
        for encoding in tokenizer.encode_batch(batch, add_special_tokens=False):
            tokens += len(encoding.ids)
    ms = (time.perf_counter() - started) * 1000
    return {"ms": ms, "tokens": tokens, **stats, "version": f"tokenizers {tokenizers.__version__}"}


def run_duckdb(files, _args):
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    records = invalid = kept = 0
    # One statement per file (the two formats have different columns, and the corpus plants duplicates within a
    # file): the first of each group of identical rows, `t` being the whole row as a struct. Splitting it into a read
    # and a dedup statement took ~1.5x as long; `copies` comes from the same window pass. Which of identical rows is
    # kept does not matter, so there is no ORDER BY (DuckDB does not keep input order here).
    for i, path in enumerate(files):
        table = f"kept{i}"
        con.execute(
            f"CREATE TEMP TABLE {table} AS SELECT *, count(*) OVER (PARTITION BY t) AS copies "
            "FROM read_json(?, format = 'newline_delimited', ignore_errors = true) t "
            "QUALIFY row_number() OVER (PARTITION BY t) = 1",
            [path],
        )
        columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] != "copies"]
        # ignore_errors turns a line that does not parse into a row of NULLs rather than dropping it: those rows are
        # the invalid lines (and all of them fall into one group). After a line cut short it also swallows the next,
        # valid line (seen at 100k records: 207 NULL rows for 206 broken lines).
        all_null = " AND ".join(f'"{c}" IS NULL' for c in columns)
        groups, rows, bad_rows, bad_groups = con.execute(
            f"SELECT count(*), sum(copies), coalesce(sum(copies) FILTER (WHERE {all_null}), 0), "
            f"count(*) FILTER (WHERE {all_null}) FROM {table}"
        ).fetchone()
        records += rows - bad_rows
        invalid += bad_rows
        kept += groups - bad_groups
    ms = (time.perf_counter() - started) * 1000
    return {
        "ms": ms,
        "records": records,
        "invalid": invalid,
        "kept": kept,
        "duplicates": records - kept,
        "key": "parsed record (all columns)",
        "version": f"duckdb {duckdb.__version__}",
    }


def run_polars(files, _args):
    # Polars sizes its thread pool from this at import (default: every core); 2, like the other rows.
    os.environ["POLARS_MAX_THREADS"] = str(THREADS)
    import polars as pl

    started = time.perf_counter()
    records = kept = 0
    for path in files:
        # pl.read_ndjson raises on the corpus's broken lines even with ignore_errors=True, so the line is the key:
        # read each line as one string column (a separator byte the corpus never holds, no quoting).
        frame = pl.read_csv(
            path,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            new_columns=["line"],
            schema_overrides={"line": pl.Utf8},
        )
        unique = frame.unique(keep="first", maintain_order=True)
        records += frame.height
        kept += unique.height
    ms = (time.perf_counter() - started) * 1000
    return {
        "ms": ms,
        "records": records,
        "kept": kept,
        "duplicates": records - kept,
        "key": "raw line",
        "version": f"polars {pl.__version__}",
    }


RUNS = {
    "tiktoken-o200k": run_tiktoken,
    "hf-tokenizers-llama3": run_hf_tokenizers,
    "duckdb-exact": run_duckdb,
    "polars-exact": run_polars,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("row", choices=sorted(RUNS))
    parser.add_argument("corpus", help="the corpus.json that bench/gen-corpus.mjs writes")
    parser.add_argument("--encoders", help="the tiktoken npm package's encoders/ folder")
    parser.add_argument("--encoding", default="o200k_base")
    parser.add_argument("--tokenizer-json", help="a Hugging Face tokenizer.json")
    args = parser.parse_args()
    with open(args.corpus, encoding="utf-8") as handle:
        files = [f["path"] for f in json.load(handle)["files"]]
    result = RUNS[args.row](files, args)
    # ru_maxrss is KiB on Linux: this process's own peak, for when GNU time is missing.
    result["maxRssKb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
