"""Rules in a running daemon: alerts fire from HTTP-ingested events, reloads are all-or-nothing
(file change, SIGHUP, POST /v1/reload), and kill -9 keeps pending and firing alerts exactly."""
import json
import signal
import time

from conftest import Daemon, wait_for

RULES = """
groups:
  - name: live
    interval: 1s
    rules:
      - alert: AccountSpendHigh
        kind: threshold
        by: [account]
        window: 1h
        above: 100
        severity: critical
        annotations:
          summary: "{{labels.account}} spent {{money(value)}} in {{window}}"
      - alert: AccountSpendHighForAnHour
        kind: threshold
        by: [account]
        window: 1h
        above: 100
        for: 1h
        severity: warning
"""


def event(account, cost, ts=None):
    ts = ts if ts is not None else time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + "Z"
    return json.dumps({"accountId": account, "service": "AmazonEC2", "region": "us-east-1",
                       "cost": cost, "currency": "USD", "timestamp": stamp})


def start(workdir, daemons, rules_text=RULES, name="ingestd"):
    rules = workdir / "rules.yaml"
    rules.write_text(rules_text)
    d = Daemon(workdir, env={"INGESTD_RULES_FILES": json.dumps([str(rules)])}, name=name)
    daemons.append(d.start())
    return d, rules


def alerts(d):
    status, body = d.get("/v1/alerts")
    assert status == 200, body
    return json.loads(body)["alerts"]


def history(d):
    status, body = d.get("/v1/alerts/history?since=0")
    assert status == 200, body
    return json.loads(body)["transitions"]


def rules_status(d):
    status, body = d.get("/v1/rules")
    assert status == 200, body
    return json.loads(body)


def firing(d, account, alertname="AccountSpendHigh"):
    return [a for a in alerts(d) if a["state"] == "firing" and a["labels"].get("account") == account
            and a["labels"]["alertname"] == alertname]


def test_an_alert_fires_from_ingested_events_and_is_in_the_api_history_and_metrics(workdir, daemons):
    d, _ = start(workdir, daemons)
    assert d.post("/v1/events", (event("111", 150) + "\n" + event("222", 50) + "\n").encode())[0] == 200
    wait_for(lambda: firing(d, "111"), 15, "AccountSpendHigh firing for 111")
    a = firing(d, "111")[0]
    assert a["labels"] == {"account": "111", "currency": "USD", "severity": "critical", "alertname": "AccountSpendHigh"}
    assert a["annotations"]["summary"] == "111 spent $150.00 in 1h"
    assert a["value"] == 150
    assert not firing(d, "222")
    pending = [x for x in alerts(d) if x["labels"]["alertname"] == "AccountSpendHighForAnHour"]
    assert [(x["state"], x["labels"]["account"]) for x in pending] == [("pending", "111")]
    rules = rules_status(d)
    assert rules["last_reload"]["successful"] is True
    assert [r["alert"] for g in rules["groups"] for r in g["rules"]] == ["AccountSpendHigh", "AccountSpendHighForAnHour"]
    assert all(r["health"] == "ok" for g in rules["groups"] for r in g["rules"])
    # Transitions become durable with the next snapshot (within a second or so): seq set.
    wait_for(lambda: len([t for t in history(d) if t["seq"] is not None]) >= 3, 10, "durable history")
    states = sorted((t["state"], t["labels"]["alertname"]) for t in history(d))
    assert states == [("firing", "AccountSpendHigh"), ("pending", "AccountSpendHigh"), ("pending", "AccountSpendHighForAnHour")]
    m = d.metrics()
    assert 'ingestd_alerts{state="firing"} 1' in m
    assert "ingestd_rules_last_reload_successful 1" in m


def test_a_broken_file_keeps_the_old_rules_running_and_a_fixed_one_is_picked_up(workdir, daemons):
    d, rules = start(workdir, daemons)
    assert d.post("/v1/events", (event("111", 150) + "\n").encode())[0] == 200
    wait_for(lambda: firing(d, "111"), 15, "firing before the edit")
    # Saved with three mistakes: every one is reported with its position, nothing changes.
    rules.write_text(RULES.replace("above: 100\n        severity: critical", "above: lots\n        severity: critical")
                     .replace("window: 1h\n        above: 100\n        for: 1h", "window: 1h\n        abvoe: 100\n        for: 1h")
                     .replace("by: [account]\n        window: 1h\n        above: lots", "by: [acount]\n        window: 1h\n        above: lots"))
    wait_for(lambda: rules_status(d)["last_reload"]["successful"] is False, 10, "the failed reload reported")
    errors = rules_status(d)["last_reload"]["errors"]
    assert len(errors) >= 3, errors
    assert all(e.startswith(str(rules) + ":") for e in errors), errors
    assert any("acount" in e for e in errors) and any("abvoe" in e for e in errors) and any("lots" in e for e in errors), errors
    assert "ingestd_rules_last_reload_successful 0" in d.metrics()
    assert [r["alert"] for g in rules_status(d)["groups"] for r in g["rules"]] == ["AccountSpendHigh", "AccountSpendHighForAnHour"]
    assert firing(d, "111"), "the old rules keep running"
    first = firing(d, "111")[0]
    # Fixed, with the first rule renamed: in force within one interval (1s) of the save.
    rules.write_text(RULES.replace("alert: AccountSpendHigh\n", "alert: AccountSpendVeryHigh\n"))
    wait_for(lambda: rules_status(d)["last_reload"]["successful"] is True, 10, "the fixed file picked up")
    wait_for(lambda: firing(d, "111", "AccountSpendVeryHigh"), 10, "the renamed rule firing")
    # The rule that still exists kept its state; the removed one's alert is gone.
    kept = [a for a in alerts(d) if a["labels"]["alertname"] == "AccountSpendHighForAnHour"]
    assert kept and kept[0]["state"] == "pending"
    assert not firing(d, "111"), first


def test_post_reload_and_sighup(workdir, daemons):
    d, rules = start(workdir, daemons)
    rules.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n        kind: nonsense\n")
    status, body = d.post("/v1/reload", b"", content_type="application/json")
    assert status == 422, body
    answer = json.loads(body)
    assert answer["successful"] is False and any(":5:" in e and "nonsense" in e for e in answer["errors"]), answer
    rules.write_text(RULES.replace("name: live", "name: renamed"))
    d.signal(signal.SIGHUP)
    wait_for(lambda: [g["name"] for g in rules_status(d)["groups"]] == ["renamed"], 10, "SIGHUP reload")
    status, body = d.post("/v1/reload", b"", content_type="application/json")
    assert status == 200 and json.loads(body)["successful"] is True, body


def test_kill9_keeps_pending_and_firing_alerts_and_never_repeats_a_transition(workdir, daemons):
    d, rules = start(workdir, daemons)
    assert d.post("/v1/events", (event("111", 150) + "\n").encode())[0] == 200
    wait_for(lambda: firing(d, "111"), 15, "firing")
    wait_for(lambda: len([t for t in history(d) if t["seq"] is not None]) == 3, 10, "three durable transitions")
    before = {(a["labels"]["alertname"], a["fingerprint"]): a for a in alerts(d)}
    assert sorted(a["state"] for a in before.values()) == ["firing", "pending"]
    d.kill9()
    d.start()
    after = {(a["labels"]["alertname"], a["fingerprint"]): a for a in alerts(d)}
    assert after.keys() == before.keys()
    for key, a in after.items():
        for field in ("state", "activeAt", "firedAt", "labels"):
            assert a.get(field) == before[key].get(field), (key, field, a, before[key])
    time.sleep(3)  # a few evaluation rounds after the restart
    transitions = history(d)
    assert sorted((t["state"], t["labels"]["alertname"]) for t in transitions) == [
        ("firing", "AccountSpendHigh"), ("pending", "AccountSpendHigh"), ("pending", "AccountSpendHighForAnHour")], transitions


def test_invalid_rule_files_stop_the_daemon_at_start_with_their_positions(workdir):
    import subprocess
    from conftest import ingestd_bin
    rules = workdir / "bad.yaml"
    rules.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n        kind: threshold\n        window: 7x\n")
    env = dict(__import__("os").environ, INGESTD_KAFKA_ENABLED="false", INGESTD_DATA_DIR=str(workdir / "d"),
               INGESTD_RULES_FILES=json.dumps([str(rules)]))
    p = subprocess.run([ingestd_bin(), "run"], env=env, capture_output=True, timeout=30)
    assert p.returncode == 78
    assert f"{rules}:6:" in p.stderr.decode(), p.stderr.decode()


def test_alerts_over_kafka_partitions_survive_kill9_with_their_partitions(broker, workdir, daemons):
    """Alerts owned by Kafka partitions are saved by the consumer thread with those partitions'
    windows and offsets: after kill -9 and a restart they are back as they were, history holds
    each transition once, and nothing is evaluated twice."""
    broker.create_topic("costs", 2)
    broker.produce("costs", [event(acct, 60).encode() for acct in ("111", "222", "333") for _ in range(2)])
    rules = workdir / "rules.yaml"
    rules.write_text(RULES)
    d = Daemon(workdir, brokers=broker.bootstrap, topics=["costs"],
               env={"INGESTD_RULES_FILES": json.dumps([str(rules)])})
    daemons.append(d)
    d.start()
    wait_for(lambda: len([a for a in alerts(d) if a["state"] == "firing"]) == 3, 60, "three firing alerts")
    assert {a["partition"] for a in alerts(d)} <= {"kafka/costs/0", "kafka/costs/1"}
    wait_for(lambda: len([t for t in history(d) if t["seq"] is not None]) == 9, 20, "nine durable transitions")
    before = {a["fingerprint"]: a for a in alerts(d)}
    assert len(before) == 6  # per account: firing AccountSpendHigh, pending AccountSpendHighForAnHour
    d.kill9()
    d.start()
    after = {a["fingerprint"]: a for a in alerts(d)}
    assert after.keys() == before.keys()
    for fp, a in after.items():
        for field in ("state", "activeAt", "firedAt", "labels", "partition", "value"):
            assert a.get(field) == before[fp].get(field), (field, a, before[fp])
    time.sleep(3)
    states = sorted(t["state"] for t in history(d))
    assert states == ["firing"] * 3 + ["pending"] * 6, history(d)
    # The windows were restored, not re-read: 120 per account, as before.
    assert sorted(r["sum"] for r in d.series(window="1h", by="account")["series"]) == [120, 120, 120]


def test_a_rule_removed_while_stopped_leaves_no_alert_behind(workdir, daemons):
    d, rules = start(workdir, daemons)
    assert d.post("/v1/events", (event("111", 150) + "\n").encode())[0] == 200
    wait_for(lambda: firing(d, "111"), 15, "firing")
    assert d.stop() == 0
    rules.write_text(RULES.replace("alert: AccountSpendHigh\n", "alert: AccountSpendRenamed\n"))
    d.start()
    names = {a["labels"]["alertname"] for a in alerts(d)}
    assert "AccountSpendHigh" not in names, alerts(d)
    assert "AccountSpendHighForAnHour" in names  # the rule that stayed keeps its pending alert
