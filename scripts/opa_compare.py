#!/usr/bin/env python3
"""Portability proof: evaluate quorate's built-in policies with real OPA and compare.

For every scenario (testdata/scenarios/*/args) this runs, in the scenario directory,
`quorate check <args> --emit-input` (the Rego input), `--emit-data` (the data document:
data.quorate.config) and `--format json` (quorate's findings, waived ones included), then
evaluates every deny/warn/violation set of policies/*.rego with OPA (Go, in-process through
the PyPI wheel opa-golib-python-bindings) on the same input and data, and compares the
findings as (rule, change, group, message). It also runs every test_* rule of
policies/*_test.rego through OPA (a test passes when its rule is true, as `opa test` says)
and compares with `quorate test --format json`.

Usage:
  scripts/opa_compare.py --quorate target/debug/quorate --opa DIR [--json]
    DIR holds the unpacked wheel (the `opa_bindings` package); .ci/run fetches it.
  scripts/opa_compare.py bench --opa DIR --policies policies --input in.json --data data.json
    Times OPA compiling the built-in policies and evaluating them over one input (used by
    benches/policy_eval.rs); prints JSON.

Exit status: 0 no divergence, 1 divergences (listed), 2 the comparison could not run.
"""

import argparse
import ctypes
import glob
import json
import os
import re
import subprocess
import sys
import time

FINDING_SETS = ("deny", "warn", "violation")


def load_opa(opa_dir):
    sys.path.insert(0, opa_dir)
    try:
        from opa_bindings import OpaEngine, OpaError, OpaUndefinedError  # noqa: F401
    except Exception as e:  # ImportError, OSError from ctypes
        print(f"opa_compare: cannot load OPA from {opa_dir}: {e}", file=sys.stderr)
        sys.exit(2)
    return OpaEngine, OpaUndefinedError


def policy_files(policies_dir, tests):
    files = sorted(glob.glob(os.path.join(policies_dir, "*.rego")))
    return [f for f in files if f.endswith("_test.rego") == tests]


def package_of(text):
    m = re.search(r"^package\s+([\w.]+)", text, re.M)
    return m.group(1) if m else None


def rule_names(text):
    return sorted(set(re.findall(r"^([a-z_][\w]*)\b", text, re.M)))


def entry_module(policies_dir):
    """The same aggregate quorate's engine evaluates: one array of every finding set."""
    refs = []
    for f in policy_files(policies_dir, tests=False):
        text = open(f, encoding="utf-8").read()
        pkg = package_of(text)
        for name in rule_names(text):
            if name in FINDING_SETS:
                refs.append(f"data.{pkg}.{name}")
    body = "".join(f"  {r},\n" for r in refs)
    return "package quorate_entry\n\nsets := [\n" + body + "]\n", refs


def new_engine(OpaEngine, policies_dir, data, with_tests=False):
    eng = OpaEngine()
    files = policy_files(policies_dir, tests=False)
    if with_tests:
        files += policy_files(policies_dir, tests=True)
    for f in files:
        eng.add_policy(os.path.relpath(f), open(f, encoding="utf-8").read())
    entry, refs = entry_module(policies_dir)
    eng.add_policy("quorate_entry.rego", entry)
    if data is not None:
        eng.add_data(data)
    return eng, refs


def finding_key(item):
    if isinstance(item, str):
        return ("", None, None, item)
    rule = item.get("rule") or item.get("id") or ""
    msg = item.get("msg") or item.get("message") or json.dumps(item, sort_keys=True)
    return (rule, item.get("change"), item.get("group"), msg)


def opa_findings(eng, inp):
    sets = eng.eval_document("quorate_entry.sets", inp)
    out = set()
    for s in sets:
        for item in s:
            out.add(finding_key(item))
    return sorted(out, key=repr)


def quorate(binary, cwd, args):
    p = subprocess.run([binary] + args, cwd=cwd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def scenario_args(d):
    return open(os.path.join(d, "args"), encoding="utf-8").read().split()


def compare_scenarios(binary, root, OpaEngine, policies_dir):
    results = []
    for d in sorted(glob.glob(os.path.join(root, "testdata", "scenarios", "*"))):
        if not os.path.isfile(os.path.join(d, "args")):
            continue
        name = os.path.basename(d)
        args = ["check"] + scenario_args(d)
        steps = {}
        for key, extra in (("input", ["--emit-input"]), ("data", ["--emit-data"]), ("report", ["--format", "json"])):
            code, out, err = quorate(binary, d, args + extra)
            if (key == "report" and code not in (0, 1)) or (key != "report" and code != 0):
                raise RuntimeError(f"{name}: quorate {' '.join(args + extra)} exited {code}: {err}")
            steps[key] = json.loads(out)
        ours = set()
        for f in steps["report"]["findings"] + steps["report"].get("waived", []):
            ours.add((f["rule"], f.get("change"), f.get("group"), f["message"]))
        ours = sorted(ours, key=repr)
        eng, _ = new_engine(OpaEngine, policies_dir, steps["data"])
        theirs = opa_findings(eng, steps["input"])
        eng.close()
        results.append({
            "scenario": name,
            "findings": len(ours),
            "only_quorate": [list(x) for x in ours if x not in theirs],
            "only_opa": [list(x) for x in theirs if x not in ours],
        })
    return results


def compare_tests(binary, root, OpaEngine, OpaUndefinedError, policies_dir):
    code, out, err = quorate(binary, root, ["test", "--format", "json", policies_dir])
    if code not in (0, 1):
        raise RuntimeError(f"quorate test exited {code}: {err}")
    ours = {t["name"]: t["status"] for t in json.loads(out)["tests"] if t["kind"] == "rule"}
    _, data_out, err = quorate(binary, root, ["check", "--emit-data"])
    eng, _ = new_engine(OpaEngine, policies_dir, json.loads(data_out), with_tests=True)
    names = []
    for f in policy_files(policies_dir, tests=True):
        text = open(f, encoding="utf-8").read()
        pkg = package_of(text)
        names += [(f"data.{pkg}.{n}", f"{pkg}.{n}") for n in rule_names(text) if n.startswith("test_")]
    # One query for all tests (a prepared query per test costs OPA a compile each): `[]` is
    # undefined, `[true]` passed. An error in any test falls back to one query per test.
    body = "".join(f"  {json.dumps(full)}: [x | x := {full}],\n" for full, _ in names)
    eng.add_policy("quorate_tests.rego", "package quorate_tests\n\nresults := {\n" + body + "}\n")
    theirs = {}
    try:
        for full, v in eng.eval_document("quorate_tests.results").items():
            theirs[full] = "pass" if v == [True] else "fail"
    except Exception:
        for full, path in names:
            try:
                v = eng.eval_document(path)
                theirs[full] = "pass" if v is True else "fail"
            except OpaUndefinedError:
                theirs[full] = "fail"
            except Exception as e:  # evaluation error
                theirs[full] = f"error: {e}"
    eng.close()
    diverging = sorted(
        {n for n in set(ours) | set(theirs) if ours.get(n) != theirs.get(n)}
    )
    return {
        "tests": len(theirs),
        "opa_passed": sum(1 for s in theirs.values() if s == "pass"),
        "diverging": [{"test": n, "quorate": ours.get(n), "opa": theirs.get(n)} for n in diverging],
    }


def bench(args):
    OpaEngine, _ = load_opa(args.opa)
    inp_text = open(args.input, "rb").read()
    data = json.load(open(args.data))
    t0 = time.perf_counter()
    eng, refs = new_engine(OpaEngine, args.policies, data)
    # OPA compiles lazily: the first evaluation prepares the query. Time it on an empty input.
    try:
        eng.eval_document("quorate_entry.sets", {})
    except Exception:
        pass
    compile_s = time.perf_counter() - t0
    # The input is handed over as the same JSON text quorate parses, straight to the Go side
    # (no Python json.dumps in the timed loop): OPA parses it, evaluates, and encodes the result.
    lib = eng._lib
    path = b"quorate_entry.sets"
    times = []
    findings = None
    for i in range(args.warmup + args.runs):
        t = time.perf_counter()
        ptr = lib.OpaEvalDocument(eng._handle, path, inp_text, 0, 0)
        raw = ctypes.string_at(ptr)
        lib.OpaFreeString(ptr)
        dt = time.perf_counter() - t
        env = json.loads(raw)
        if env.get("error"):
            print(json.dumps({"error": env["error"]}))
            sys.exit(2)
        if i >= args.warmup:
            times.append(dt)
        if findings is None:
            sets = env["result"][0]["expressions"][0]["value"]
            findings = sorted({finding_key(item) for s in sets for item in s}, key=repr)
    print(json.dumps({"compile_s": compile_s, "eval_s": times, "findings": findings, "sets": len(refs)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("bench")
    b.add_argument("--opa", required=True)
    b.add_argument("--policies", required=True)
    b.add_argument("--input", required=True)
    b.add_argument("--data", required=True)
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--quorate", default="target/debug/quorate")
    ap.add_argument("--opa", default=os.environ.get("QUORATE_OPA_BINDINGS", ""))
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--json", action="store_true", help="print the comparison as JSON")
    ap.add_argument("--policies", help="policies OPA evaluates (default: ROOT/policies, what quorate embeds)")
    args = ap.parse_args()
    if args.cmd == "bench":
        return bench(args)
    if not args.opa:
        print("opa_compare: give --opa DIR (the unpacked opa-golib-python-bindings wheel)", file=sys.stderr)
        sys.exit(2)
    OpaEngine, OpaUndefinedError = load_opa(args.opa)
    binary = os.path.abspath(args.quorate)
    policies_dir = args.policies or os.path.join(args.root, "policies")
    try:
        scenarios = compare_scenarios(binary, args.root, OpaEngine, policies_dir)
        tests = compare_tests(binary, args.root, OpaEngine, OpaUndefinedError, policies_dir)
    except Exception as e:
        print(f"opa_compare: {e}", file=sys.stderr)
        sys.exit(2)
    report = {"scenarios": scenarios, "tests": tests}
    diverged = any(s["only_quorate"] or s["only_opa"] for s in scenarios) or tests["diverging"]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for s in scenarios:
            ok = not (s["only_quorate"] or s["only_opa"])
            print(f"{'same' if ok else 'DIFF'}  {s['scenario']}: {s['findings']} findings")
            for f in s["only_quorate"]:
                print(f"      only quorate: {f}")
            for f in s["only_opa"]:
                print(f"      only OPA:     {f}")
        print(f"policy tests: OPA passes {tests['opa_passed']} of {tests['tests']}")
        for d in tests["diverging"]:
            print(f"DIFF  {d['test']}: quorate {d['quorate']}, OPA {d['opa']}")
        print("no divergence" if not diverged else "DIVERGENCES FOUND")
    sys.exit(1 if diverged else 0)


if __name__ == "__main__":
    main()
