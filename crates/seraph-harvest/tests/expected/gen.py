#!/usr/bin/env python3
"""Regenerates the expected payloads of tests/vectors.rs.

An independent model of the daemon's aggregation (protocol.md §3.6,
§4.3-4.7, §4.9 per-transaction metrics) written against the *decoded* vector
JSON files (not the .bin frames the Rust test reads), with its own Go-style
number formatting. Run from anywhere:

    python3 crates/seraph-harvest/tests/expected/gen.py

It writes <scenario>/<method>.json next to this script. Review diffs by hand:
the Rust test treats these files as the truth.
"""
import json
import math
import os
import struct
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.normpath(os.path.join(HERE, "../../../../tests/vectors"))
RUN_ID = "RUN-1"
START, END = 1700000000, 1700000060
LIMITS = dict(analytic=10000, custom=100000, error=100, span=10000, log=20000)


def esc(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o in (0x2028, 0x2029):
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def digits(x):
    d = Decimal(repr(abs(x))).normalize()
    _, ds, exp = d.as_tuple()
    s = "".join(map(str, ds))
    return s, len(s) + exp


def fmt_e(s, e):
    m = s[0] + ("." + s[1:] if len(s) > 1 else "")
    return m + "e" + ("-" if e < 0 else "+") + "%02d" % abs(e)


def fmt_f(s, dp):
    if dp <= 0:
        return "0." + "0" * (-dp) + s
    if dp >= len(s):
        return s + "0" * (dp - len(s))
    return s[:dp] + "." + s[dp:]


def go_g(x):
    """strconv.FormatFloat(x, 'g', -1, 64)"""
    assert math.isfinite(x)
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    s, dp = digits(x)
    sign = "-" if x < 0 else ""
    e = dp - 1
    return sign + (fmt_e(s, e) if e < -4 or e >= 6 else fmt_f(s, dp))


def json_float(x, s=None, dp=None):
    """encoding/json float formatting given shortest digits."""
    if x == 0:
        return "0"
    if s is None:
        s, dp = digits(x)
    sign = "-" if x < 0 else ""
    if abs(x) < 1e-6 or abs(x) >= 1e21:
        out = fmt_e(s, dp - 1)
        if out[-4:-2] == "-0" and out[-5] == "e":
            out = out[:-2] + out[-1]
        return sign + out
    return sign + fmt_f(s, dp)


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def json_f32(x):
    if x == 0:
        return "0"
    for p in range(1, 10):
        t = "%.*g" % (p, x)
        if f32(float(t)) == x:
            break
    s, dp = digits(float(t))
    return json_float(x, s, dp)


def heap_push(h, item, less):
    h.append(item)
    j = len(h) - 1
    while j > 0:
        i = (j - 1) // 2
        if not less(h[j], h[i]):
            break
        h[i], h[j] = h[j], h[i]
        j = i


class Harvest:
    def __init__(self):
        self.metrics = {}  # (scope, name) -> [6 floats]
        self.events = {k: [] for k in LIMITS}
        self.seen = {k: 0 for k in LIMITS}
        self.errors = []
        self.slow = []
        self.trace = None

    def add_metric(self, name, scope, v):
        cur = self.metrics.get((scope, name))
        if cur is None:
            self.metrics[(scope, name)] = list(v)
            return
        cur[0] += v[0]
        cur[1] += v[1]
        cur[2] += v[2]
        if v[3] < cur[3]:
            cur[3] = v[3]
        if v[4] > cur[4]:
            cur[4] = v[4]
        cur[5] += v[5]

    def value(self, name, x):
        self.add_metric(name, "", [1.0, x, 0.0, x, x, x * x])

    def event(self, kind, data):
        self.seen[kind] += 1
        assert len(self.events[kind]) < LIMITS[kind]
        self.events[kind].append(data)

    def add(self, txn, body_len):
        self.value("Supportability/TxnData/Size", float(body_len))
        self.value("Supportability/TxnData/CustomEvents", float(len(txn.get("custom_events", []))))
        self.value("Supportability/TxnData/Metrics", float(len(txn.get("metrics", []))))
        self.value("Supportability/TxnData/SlowSQL", float(len(txn.get("slow_sqls", []))))
        name, uri = txn["name"], txn["uri"]
        assert "synthetics_resource_id" not in txn
        if "txn_event" in txn:
            self.event("analytic", txn["txn_event"]["data"])
        for m in txn.get("metrics", []):
            d = m["data"]
            v = [d["count"], d["total"], d["exclusive"], d["min"], d["max"], d["sum_squares"]]
            self.add_metric(m["name"], "", v)
            if d["scoped"]:
                self.add_metric(m["name"], name, v)
        for e in txn.get("errors", []):
            if len(self.errors) == 20:
                raise NotImplementedError
            heap_push(self.errors, (e["priority"], e["data"]), lambda a, b: a[0] < b[0])
        for s in txn.get("slow_sqls", []):
            assert all(x["id"] != s["id"] for x in self.slow) and len(self.slow) < 10
            self.slow.append(dict(s, txn_name=name, uri=uri))
        for e in txn.get("custom_events", []):
            self.event("custom", e["data"])
        for e in txn.get("span_events", []):
            self.event("span", e["data"])
        for e in txn.get("log_events", []):
            self.event("log", e["data"])
        assert txn.get("log_forwarding_labels", {"data": "[]"})["data"] == "[]"
        assert "php_packages" not in txn
        if "trace" in txn:
            t = txn["trace"]
            self.value("Supportability/TxnData/TraceSize", float(len(t["data"].encode())))
            assert not t.get("force_persist", False)
            if self.trace is None or t["duration"] >= self.trace[0]["duration"]:
                self.trace = (t, name, uri)
        for e in txn.get("error_events", []):
            self.event("error", e["data"])

    def payloads(self):
        out = {}
        rows = []
        for (scope, name) in sorted(self.metrics):
            v = self.metrics[(scope, name)]
            key = '{"name":' + esc(name) + (',"scope":' + esc(scope) if scope else "") + "}"
            rows.append("[" + key + ",[" + ",".join(go_g(x) for x in v) + "]]")
        out["metric_data"] = "[%s,%d,%d,[%s]]" % (esc(RUN_ID), START, END, ",".join(rows))
        methods = dict(analytic="analytic_event_data", custom="custom_event_data",
                       error="error_event_data", span="span_event_data")
        for kind, method in methods.items():
            if self.events[kind]:
                out[method] = '[%s,{"reservoir_size":%d,"events_seen":%d},[%s]]' % (
                    esc(RUN_ID), LIMITS[kind], self.seen[kind], ",".join(self.events[kind]))
        assert not self.events["log"]
        if self.errors:
            out["error_data"] = "[%s,[%s]]" % (esc(RUN_ID), ",".join(d for _, d in self.errors))
        if self.trace:
            t, name, uri = self.trace
            row = [json_float(t["timestamp"]), json_float(t["duration"]), esc(name), esc(uri),
                   t["data"], esc(t["guid"]), "null", "false", "null", "null"]
            out["transaction_sample_data"] = "[%s,[[%s]]]" % (esc(RUN_ID), ",".join(row))
        if self.slow:
            rows = []
            for s in self.slow:
                ms = [json_f32(f32(f32(float(s[k])) / f32(1000.0)))
                      for k in ("total_micros", "min_micros", "max_micros")]
                rows.append("[" + ",".join([esc(s["txn_name"]), esc(s["uri"]), str(s["id"]),
                                            esc(s["query"]), esc(s["metric"]), str(s["count"])]
                                           + ms + [s["params"]]) + "]")
            out["sql_trace_data"] = "[[" + ",".join(rows) + "]]"
        return out


def frames(directory):
    for root, _, files in sorted(os.walk(directory)):
        for f in sorted(files):
            if f.endswith("-Transaction.json"):
                path = os.path.join(root, f)
                body_len = os.path.getsize(path[: -len(".json")] + ".bin") - 8
                yield json.load(open(path))["data"], body_len


def scenario_dirs():
    for entry in sorted(os.listdir(VECTORS)):
        top = os.path.join(VECTORS, entry)
        if not os.path.isdir(top):
            continue
        subs = sorted(d for d in os.listdir(top) if os.path.isdir(os.path.join(top, d)))
        for d in (subs or [""]):
            path = os.path.join(top, d)
            if any(f.endswith("-Transaction.json") for f in os.listdir(path)):
                yield (entry + ("-" + d if d else "")), path


def write(name, payloads):
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)
    for method, body in payloads.items():
        json.loads(body)  # must be valid JSON
        with open(os.path.join(out_dir, method + ".json"), "w") as f:
            f.write(body + "\n")


def main():
    everything = Harvest()
    for name, path in scenario_dirs():
        h = Harvest()
        for txn, n in frames(path):
            h.add(txn, n)
        write(name, h.payloads())
    for txn, n in frames(VECTORS):
        everything.add(txn, n)
    write("all", everything.payloads())


if __name__ == "__main__":
    main()
