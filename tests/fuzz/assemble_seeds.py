#!/usr/bin/env python3
"""Assembles the seed corpus of every fuzz target into OUT/<target>/.

    assemble_seeds.py OUT [--shared DIR]

Sources: the small seeds checked in under tests/fuzz/corpus/<target>/, the
repository's own rule, test and response files, and the read-only shared
data (conformance tests, the awesome-prometheus-alerts rule corpus) that CI
has too, so the checked-in corpus stays small. Missing shared data is
skipped with a note. Each seed is one file named by its content hash, so
running twice gives the same directory.
"""
import hashlib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
HERE = ROOT / "tests" / "fuzz"
MAX_SEED_BYTES = 64 * 1024
MAX_SEEDS = 2000


def files(base, pattern):
    base = pathlib.Path(base)
    return sorted(p for p in base.glob(pattern) if p.is_file()) if base.exists() else []


def read(path):
    try:
        return path.read_bytes()
    except OSError:
        return b""


class Seeds:
    def __init__(self, out):
        self.out = out
        self.counts = {}

    def add(self, target, data):
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_SEED_BYTES or self.counts.get(target, 0) >= MAX_SEEDS:
            return
        d = self.out / target
        d.mkdir(parents=True, exist_ok=True)
        p = d / hashlib.sha1(data).hexdigest()
        if not p.exists():
            p.write_bytes(data)
            self.counts[target] = self.counts.get(target, 0) + 1


def yaml_scalar_lines(text, key):
    """Values of one-line `key: value` entries (quotes kept out)."""
    out = []
    for m in re.finditer(r"^\s*-?\s*" + key + r":\s*(.+)$", text, re.M):
        v = m.group(1).strip()
        if v in ("|", ">", "|-", ">-"):
            continue
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out.append(v)
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = pathlib.Path(sys.argv[1])
    shared = ROOT.parent / "shared"
    if "--shared" in sys.argv:
        shared = pathlib.Path(sys.argv[sys.argv.index("--shared") + 1])
    if not shared.exists():
        print(f"assemble_seeds: {shared} not found; using the checked-in seeds only")
    seeds = Seeds(out)

    for target_dir in sorted((HERE / "corpus").iterdir()):
        for p in files(target_dir, "*"):
            seeds.add(target_dir.name, read(p))

    conformance = shared / "conformance"
    rule_corpus = shared / "corpus" / "awesome-prometheus-alerts" / "dist" / "rules"
    rule_files = (files(rule_corpus, "**/*.yml") + files(conformance / "promtool", "*.rules.yml")
                  + files(ROOT / "rules", "**/*.rules.yml")
                  + files(conformance / "promtool-upstream", "**/*.yml"))
    test_files = files(conformance / "promtool", "*.test.yml") + files(ROOT / "rules", "*.test.yml")
    promql_tests = (files(conformance / "promql-3", "*.test") + files(conformance / "promql-2.42", "*.test")
                    + files(ROOT / "tests" / "promql" / "testdata", "*.test"))

    # Rule files whole; their expressions, templates and series for the other parsers.
    for p in rule_files:
        data = read(p)
        if b"tests:" in data[:4096] and b"input_series" in data:
            seeds.add("promtool_test_fuzz", data)
            continue
        seeds.add("rule_file_fuzz", data)
        text = data.decode("utf-8", "replace")
        for expr in yaml_scalar_lines(text, "expr"):
            seeds.add("promql_parser_fuzz", expr)
        for key in ("summary", "description", "severity", "runbook_url", "title"):
            for t in yaml_scalar_lines(text, key):
                if "{{" in t:
                    seeds.add("template_fuzz", t.replace("\\n", "\n"))

    # promtool unit-test files, their rule_files pointed at the fuzz sandbox's rules.yml.
    for p in test_files:
        text = read(p).decode("utf-8", "replace")
        text = re.sub(r"^(\s*-\s*)\S+\.ya?ml\s*$", r"\1rules.yml", text, flags=re.M)
        seeds.add("promtool_test_fuzz", text)
        for series in yaml_scalar_lines(text, "series"):
            for values in yaml_scalar_lines(text, "values")[:1]:
                seeds.add("series_notation_fuzz", series + " " + values)
        for expr in yaml_scalar_lines(text, "expr"):
            seeds.add("promql_parser_fuzz", expr)

    # promqltest scripts: load blocks for the series notation, eval lines for PromQL.
    for p in promql_tests:
        text = read(p).decode("utf-8", "replace")
        block = []
        for line in text.splitlines() + [""]:
            if line.startswith("load "):
                block = [line]
            elif block and line.startswith((" ", "\t")):
                block.append(line)
                seeds.add("series_notation_fuzz", line.strip())
            elif block:
                seeds.add("series_notation_fuzz", "\n".join(block) + "\n")
                block = []
            m = re.match(r"^eval(?:_fail|_ordered|_warn|_info)?\s+(?:instant|range)\s+.*?(?:at|step)\s+\S+\s+(.+)$",
                         line)
            if m:
                seeds.add("promql_parser_fuzz", m.group(1))

    for p in files(ROOT / "rules", "**/*.responses.yml") + files(ROOT / "tests" / "actions", "**/*.yml") \
            + files(ROOT / "tests" / "cli" / "testdata", "*.yml"):
        seeds.add("response_config_fuzz", read(p))
    for p in files(ROOT / "tests" / "template" / "testdata", "*.yml"):
        for t in yaml_scalar_lines(read(p).decode("utf-8", "replace"), r"(?:template|text|input)"):
            if "{{" in t:
                seeds.add("template_fuzz", t)
    for p in files(ROOT / "tests" / "ingest" / "testdata", "*"):
        seeds.add("ingest_text_fuzz", read(p))

    for target, n in sorted(seeds.counts.items()):
        print(f"assemble_seeds: {target}: {n} new seed(s)")


if __name__ == "__main__":
    main()
