"""A property test of GET /v1/series parameters against the real binary: random and extreme
numbers, durations, instants, regexes and selectors (garbage, huge, unicode, deep nesting).
Whatever the query, the daemon stays up and answers JSON: 200, 400 (a bad parameter) or 422
(a total that overflows), never a 5xx and never a dropped connection. Fixed seed, bounded count."""
import json
import random
import urllib.parse

from conftest import Daemon

SEED = 12
REQUESTS = 2000

UNITS = ["s", "m", "h", "d", "w"]
EXTREME_INTS = [0, 1, -1, 59, 60, 3599, 2**31, 2**32, 2**53, 2**62, 2**63 - 1, 2**63, -(2**63), 10**16, 10**19, 10**30,
                253402300799999, 253402300800000, 36500 * 86400, 36501 * 86400]


def number(r):
    choice = r.random()
    if choice < 0.4:
        return str(r.choice(EXTREME_INTS))
    if choice < 0.7:
        return str(r.randint(-10**6, 10**13))
    if choice < 0.85:
        return r.choice(["1e308", "NaN", "inf", "-0", "0x10", "1.5", "", " ", "+5", "٣", "１２"])
    return "9" * r.randint(1, 60)


def duration(r):
    choice = r.random()
    if choice < 0.5:
        return "".join(f"{r.choice(EXTREME_INTS + [1, 5, 30, 90])}{r.choice(UNITS)}" for _ in range(r.randint(1, 3)))
    if choice < 0.7:
        return f"{r.randint(0, 100)}{r.choice(UNITS)}"
    if choice < 0.8:
        return "mtd"
    return r.choice(["", "h", "1", "1x", "-1h", "1h-", "1.5h", "1 h", "ⅷh", "1hh", "99999999999999999999999w", "1h" * 500])


def instant(r):
    choice = r.random()
    if choice < 0.4:
        return number(r)
    year = r.choice([0, 1, 1969, 1970, 2026, 9999, 10000, r.randint(0, 9999)])
    return r.choice([
        f"{year:04d}-{r.randint(0, 13):02d}-{r.randint(0, 32):02d}T{r.randint(0, 25):02d}:{r.randint(0, 61):02d}:{r.randint(0, 61):02d}Z",
        f"{year:04d}-06-01T00:00:00.{'9' * r.randint(1, 30)}+23:59",
        f"{year:04d}-06-01", "2026-06-01T00:00:00-99:99", "2026-13-45", "yesterday", "2026-06-01T00:00:00Z" * 3,
    ])


def regex(r):
    choice = r.random()
    if choice < 0.3:
        depth = r.choice([1, 5, 31, 32, 33, 100, 2000])
        return "(" * depth + "a" + ")" * depth
    if choice < 0.45:
        return "[" * r.randint(1, 500)
    if choice < 0.6:
        return "".join(r.choice("()[]{}*+?|\\.^$-,0123456789aZ_é中🙂") for _ in range(r.randint(0, 40)))
    if choice < 0.7:
        return "a" * r.randint(1000, 1100)
    return r.choice(["Amazon.*", "us-.*", ".*", "", "(EC2|S3)", "a{1,1000}", "\\d+", "\\p{L}+", "(?i)amazon.*", "[[:alpha:]]+"])


def label_value(r):
    return "".join(r.choice("abc\"\\,{}=~!\n\t é🙂\u0000") for _ in range(r.randint(0, 12)))


def selector(r):
    choice = r.random()
    if choice < 0.5:
        parts = []
        for _ in range(r.randint(0, 4)):
            name = r.choice(["account", "service", "region", "team", "nolabel", "", "1x", "é", "__name__"])
            op = r.choice(["=", "!=", "=~", "!~", "==", "~", ""])
            value = regex(r) if "~" in op else label_value(r)
            parts.append(f'{name}{op}"{value.replace(chr(34), chr(92) + chr(34))}"')
        body = ",".join(parts)
        return "{" + body + "}" if r.random() < 0.8 else body
    if choice < 0.6:
        return "{" * r.randint(1, 5000)
    if choice < 0.7:
        return "{" + ",".join(f'account="{i}"' for i in range(r.randint(100, 600))) + "}"
    return "".join(chr(r.randint(1, 0x2FFF)) for _ in range(r.randint(0, 200)))


def plausible(r):
    """A query that mostly works, so that the wild values below also meet the paths after parsing."""
    params = {"window": r.choice(["1m", "1h", "2h", "1d", "7d", "mtd", "48h"]),
              "at": r.choice(["2026-11-26T10:30:00Z", "2026-11-28T23:59:59Z", "1796000000000", "2026-11-01"])}
    if r.random() < 0.5:
        params["by"] = r.choice(["", "account", "account,service", "team"])
    if r.random() < 0.3:
        params["offset"] = r.choice(["0s", "1h", "2d", "7d"])
    if r.random() < 0.3:
        params["match"] = r.choice(['{service=~"Amazon.*"}', '{account="1"}', '{team!="x",region=~"us-.*"}'])
    if r.random() < 0.3:
        params["agg"] = r.choice(["sum", "avg", "min", "max", "count"])
    if r.random() < 0.3:
        params["points"] = "true"
    # Then one parameter from the wild generators.
    name, gen = r.choice([("window", duration), ("offset", duration), ("step", duration), ("at", instant), ("match", selector)])
    if r.random() < 0.7:
        params[name] = gen(r)
    return urllib.parse.urlencode(params)


def query(r):
    if r.random() < 0.5:
        return plausible(r)
    params = {}
    if r.random() < 0.95:
        params["window"] = duration(r)
    for name, gen, p in [("offset", duration, 0.5), ("step", duration, 0.4), ("at", instant, 0.7),
                         ("match", selector, 0.6)]:
        if r.random() < p:
            params[name] = gen(r)
    if r.random() < 0.5:
        params["by"] = r.choice(["", "account", "account,service", "nolabel", ",,,", "team", "é" * 50])
    if r.random() < 0.4:
        params["agg"] = r.choice(["sum", "avg", "min", "max", "count", "median", "", "SUM"])
    if r.random() < 0.3:
        params["points"] = r.choice(["true", "1", "false", "yes"])
    return urllib.parse.urlencode(params)


def test_series_parameters_never_crash_and_always_answer_json(workdir, daemons):
    d = Daemon(workdir, env={"INGESTD_STORE_MAX_FUTURE_SKEW": "100000d", "INGESTD_STORE_LABELS": "[team]"})
    daemons.append(d.start())
    events = [{"accountId": str(a), "service": s, "region": "us-east-1", "cost": c, "currency": "USD",
               "timestamp": f"2026-11-{day:02d}T{hour:02d}:15:00Z", "metadata": {"team": "web"}}
              for a in range(3) for s in ["AmazonEC2", "AmazonS3"] for day in (26, 28) for hour in (1, 10)
              for c in (1.5, 1e307)]
    body = b"\n".join(json.dumps(e).encode() for e in events)
    assert d.post("/v1/events", body)[0] == 200

    r = random.Random(SEED)
    seen = {}
    for i in range(REQUESTS):
        q = query(r)
        status, raw = d.get("/v1/series?" + q)
        assert status != 0, f"request {i} got no answer (daemon died?): {q[:300]}\n{d.log_tail()}"
        assert status in (200, 400, 422), (i, status, q[:300], raw[:300])
        answer = json.loads(raw)  # always JSON
        assert ("error" in answer) == (status != 200), (q[:300], raw[:300])
        seen[status] = seen.get(status, 0) + 1
    assert d.proc.poll() is None
    # The generator reaches every kind of answer, so the property is not vacuous.
    assert all(seen.get(s, 0) > 0 for s in (200, 400, 422)), seen
    print(f"statuses over {REQUESTS} requests: {seen}")
