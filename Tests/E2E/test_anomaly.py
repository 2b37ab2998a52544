"""Anomaly rules in a running daemon: a new rule learns from the history the store holds, a
spike fires within a step with its why, the detector survives kill -9, and feedback
(`planned`) makes the new level the baseline, durably."""
import json
import time

from conftest import Daemon, http, wait_for

RULES = """
groups:
  - name: anomalies
    interval: 1s
    rules:
      - alert: CostAnomaly
        kind: anomaly
        by: [account, service]
        resolution: 10s
        min_impact: {amount: 20, percent: 50}
        annotations:
          summary: "{{labels.account}}: {{money(value)}} this hour, expected {{money(expected)}} (up to {{money(upper)}}), {{reason}}, impact {{money(measure)}}"
      - alert: AccountSpendHigh
        kind: threshold
        by: [account]
        window: 1h
        above: 300
"""
# 10-second steps keep the test short (a step is judged when it ends); the ring holds the
# detector's eight days of history.
STORE = {"INGESTD_STORE_RESOLUTIONS": "[{step: 10s, retention: 9d}, {step: 1h, retention: 35d}]"}
HOUR = 3600


def event(account, cost, ts, resource="i-base"):
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z"
    return json.dumps({"accountId": account, "service": "AmazonEC2", "region": "us-east-1", "resourceId": resource,
                       "cost": cost, "currency": "USD", "timestamp": stamp})


def start(workdir, daemons, name="ingestd"):
    rules = workdir / "rules.yaml"
    rules.write_text(RULES)
    d = Daemon(workdir, env={"INGESTD_RULES_FILES": json.dumps([str(rules)]), **STORE}, name=name)
    daemons.append(d.start())
    return d


def get_json(d, path):
    status, body = d.get(path)
    assert status == 200, body
    return json.loads(body)


def anomaly_alerts(d, account):
    return [a for a in get_json(d, "/v1/alerts")["alerts"]
            if a["labels"]["alertname"] == "CostAnomaly" and a["labels"]["account"] == account]


def baselines(d):
    return {x["labels"]["account"]: x for x in get_json(d, "/v1/series/baseline?match={service=\"AmazonEC2\"}")["detectors"]}


def post_history(d, accounts, days=5):
    """One charge of ~10 USD at minute 17 of every hour of the last `days` days (before this hour)."""
    now = time.time()
    this_hour = int(now // HOUR) * HOUR
    lines = []
    for h in range(days * 24, 0, -1):
        start = this_hour - h * HOUR
        for account in accounts:
            lines.append(event(account, 10 + (h % 5) * 0.3, start + 17 * 60))
    status, body = d.post("/v1/events", ("\n".join(lines) + "\n").encode())
    assert status == 200, body


def test_an_anomaly_rule_learns_from_history_fires_on_a_spike_survives_kill_9_and_takes_feedback(workdir, daemons):
    d = start(workdir, daemons)
    post_history(d, ["111", "222"])
    # The groups appear, the next round seeds their detectors from the five days the store holds.
    # (at the next completed step).
    wait_for(lambda: len(baselines(d)) == 2 and not any(b["warmingUp"] for b in baselines(d).values()), 90,
             "both detectors trained from history")
    b = baselines(d)["111"]
    assert b["resolution"] == "10s" and b["detector"] == "seasonal"
    assert 9.5 < b["windows"][-1]["expected"] < 11.5, b["windows"][-1]
    assert len(b["windows"]) == 24 and not any(w["anomalous"] for w in b["windows"])
    assert anomaly_alerts(d, "111") == []

    # A spike in the current step: judged when the step ends, as the hour so far.
    assert d.post("/v1/events", (event("111", 500, time.time(), resource="i-0runaway") + "\n").encode())[0] == 200
    wait_for(lambda: [a for a in anomaly_alerts(d, "111") if a["state"] == "firing"], 90, "CostAnomaly firing for 111")
    alert = anomaly_alerts(d, "111")[0]
    assert alert["value"] >= 500 and alert["measure"] >= 20
    summary = alert["annotations"]["summary"]
    assert summary.startswith("111: $5") and "expected $1" in summary and "spike" in summary, summary
    # The why, whatever the rule's templates: built-in annotations (API, webhook, Slack).
    why = alert["annotations"]
    assert why["reason"] == "spike" and why["observed"].startswith("$5") and why["expected"].startswith("$1"), why
    assert " to $" in why["band"] and why["impact"].startswith("$"), why
    # The top contributors of the hour: the runaway resource first.
    assert why["contributors"].startswith("i-0runaway $500.00"), why
    assert anomaly_alerts(d, "222") == []
    assert baselines(d)["111"]["last"]["reason"] == "spike"

    # kill -9 after a snapshot: the alert and the detector come back as they were.
    before = baselines(d)
    time.sleep(2.5)  # snapshot interval 1s
    d.kill9()
    d.start()
    after_alert = anomaly_alerts(d, "111")
    assert [(a["state"], a["activeAt"]) for a in after_alert] == [("firing", alert["activeAt"])]
    after = baselines(d)
    for account in ("111", "222"):
        assert after[account]["windows"] == before[account]["windows"]
        assert after[account]["warmingUp"] is False

    # Feedback (the same daemon: a spike takes a step to judge, so one test covers both).
    feedback_planned_makes_the_new_level_the_baseline_and_is_stored_with_the_detector(d, alert["fingerprint"])


def feedback_planned_makes_the_new_level_the_baseline_and_is_stored_with_the_detector(d, fingerprint):
    url = f"{d.url}/v1/alerts/{fingerprint}/feedback"

    # Refused clearly: bad verdicts, unknown members, unknown alerts, alerts of other kinds.
    for body, code, words in [(b'{"verdict": "maybe"}', 400, "verdict must be one of real, not_real, planned"),
                              (b'{"verdict": "planned", "who": 1}', 400, 'unknown member "who"'),
                              (b'[1]', 400, "send a JSON object"),
                              (b'{"verdict": "real", "note": "' + b"x" * 1001 + b'"}', 400, "at most 1000 characters")]:
        status, answer = http("POST", url, body, {"Content-Type": "application/json"})
        assert status == code and words in json.loads(answer)["error"], (body[:40], status, answer)
    status, answer = http("POST", f"{d.url}/v1/alerts/0000000000000000/feedback", b'{"verdict": "real"}', {"Content-Type": "application/json"})
    assert status == 404, answer
    wait_for(lambda: [a for a in get_json(d, "/v1/alerts")["alerts"] if a["labels"]["alertname"] == "AccountSpendHigh"], 30,
             "threshold alert")
    threshold = [a for a in get_json(d, "/v1/alerts")["alerts"] if a["labels"]["alertname"] == "AccountSpendHigh"][0]
    status, answer = http("POST", f"{d.url}/v1/alerts/{threshold['fingerprint']}/feedback", b'{"verdict": "real"}',
                          {"Content-Type": "application/json"})
    assert status == 409 and "not an anomaly alert" in json.loads(answer)["error"], answer

    status, answer = http("POST", url, b'{"verdict": "planned", "note": "migration to the new cluster"}',
                          {"Content-Type": "application/json"})
    assert status == 200, answer
    applied = json.loads(answer)
    assert applied["feedback"]["verdict"] == "planned" and applied["feedback"]["note"] == "migration to the new cluster"
    assert applied["detector"]["last"].get("reason") is None
    # The alert resolves at the next evaluation; the baseline is now the new level.
    wait_for(lambda: anomaly_alerts(d, "111") == [], 15, "CostAnomaly resolved after planned")
    wait_for(lambda: [f for f in get_json(d, "/v1/alerts/feedback?since=0")["feedback"] if f["durable"]], 15,
             "feedback saved with the snapshot")
    [record] = get_json(d, "/v1/alerts/feedback?since=0")["feedback"]
    assert record["fingerprint"] == fingerprint and record["labels"]["account"] == "111"
    judged = baselines(d)["111"]["last"]["stepStart"]

    # Durable: after a restart the feedback is listed, the next step is judged against the
    # new level (the hour so far extrapolated: far above the old 11 USD), and no alert comes back.
    assert d.stop() == 0
    d.start()
    assert [f["verdict"] for f in get_json(d, "/v1/alerts/feedback?since=0")["feedback"]] == ["planned"]
    last = wait_for(lambda: (b := baselines(d)["111"]["last"])["stepStart"] > judged and b, 90, "the next step judged")
    assert last["expected"] > 100 and last.get("reason") is None, last
    assert anomaly_alerts(d, "111") == []
