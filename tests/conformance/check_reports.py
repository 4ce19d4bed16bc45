#!/usr/bin/env python3
"""Checks `quanta conform` end to end: --list specs read back unchanged through --case, the
JSON and JUnit reports parse and agree with each other, and bad input gives exit status 2
with a message naming the problem. Usage: check_reports.py QUANTA_EXE WORKDIR"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

exe, work = sys.argv[1], sys.argv[2]


def run(*args, expect=0):
    p = subprocess.run([exe, "conform", *args], capture_output=True, text=True)
    if p.returncode != expect:
        sys.exit(f"quanta conform {' '.join(args)}: exit {p.returncode}, expected {expect}\n{p.stdout}\n{p.stderr}")
    return p


# Every listed spec is canonical: reading it back with --case prints it unchanged.
specs = run("--list").stdout.split()
assert len(specs) > 300, len(specs)
quick = run("--quick", "--list").stdout.split()
assert 0 < len(quick) < len(specs) // 4, len(quick)
ops = {s.split(":")[0] for s in quick}
# every op with an entry in conformance/ops.c's table has quick cases
table = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conformance", "ops.c")).read()
entries = set(re.findall(r"\[QN_OP_\w+\] = &qc_(\w+)_def", table))
assert len(entries) >= 16 and ops == entries, (sorted(ops), sorted(entries))
sample = specs[:: max(1, len(specs) // 60)][:60]  # quanta conform takes at most 64 --case
args = [a for s in sample for a in ("--case", s)]
assert run(*args, "--list").stdout.split() == sample

# Omitted keys take defaults; the canonical form spells them all out.
out = run("--case", "matmul:m=3,n=17,k=192,w=q4,g=64,x=f16", "--list").stdout.strip()
assert out == "matmul:m=3,n=17,k=192,w=q4,g=64,dq=0,x=f16,b=1,wbuf=0", out

# Reports.
js, ju = os.path.join(work, "check-reports.json"), os.path.join(work, "check-reports.xml")
chosen = [quick[0], quick[len(quick) // 2], quick[-1]]
p = run("--backend", "ref", "--seed", "12345", *[a for s in chosen for a in ("--case", s)], "--json", js, "--junit", ju)
assert "seed 12345" in p.stdout, p.stdout
with open(js) as f:
    rep = json.load(f)
assert rep["seed"] == 12345
assert rep["summary"] == {"pass": 3, "fail": 0, "skip": 0}, rep["summary"]
assert [r["case"] for r in rep["results"]] == chosen
for r in rep["results"]:
    assert r["backend"] == "ref" and r["status"] == "PASS", r
    for k in ("op", "nmse", "maxerr", "nmse_threshold", "maxerr_threshold", "exact", "ms", "message"):
        assert k in r, k
root = ET.parse(ju).getroot()
suite = root.find("testsuite")
assert suite.get("tests") == "3" and suite.get("failures") == "0", suite.attrib
assert [tc.get("name") for tc in suite.findall("testcase")] == chosen

# Bad input: exit 2 and a message that names the problem.
for spec, words in [
    ("attention:hq=6,hkv=4", ["hq", "hkv"]),
    ("matmul:m=3,zz=1", ["unknown key", "zz"]),
    ("matmul:w=q4,k=100", ["multiple", "k"]),
    ("nosuchop", ["unknown op"]),
    ("rope:shape=1x2x3x7", ["even"]),
]:
    p = run("--backend", "ref", "--case", spec, expect=2)
    for w in words:
        assert w in p.stderr, (spec, w, p.stderr)
p = run("--filter", "matmul,bogus", "--list", expect=2)
assert "bogus" in p.stderr
p = run("--seed", "x1", expect=2)
p = run("--frobnicate", expect=2)
print("conform reports and CLI checks passed")
