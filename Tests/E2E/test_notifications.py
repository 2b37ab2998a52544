"""Notifications end to end: a real daemon, real rule files, real HTTP receivers on loopback
with injected faults (receivers.py). Receivers verify every signature with the documented
algorithm; a wrongly signed request is never counted as delivered."""
import calendar
import json
import statistics
import time
import urllib.parse

from conftest import Daemon, event, http, wait_for
from receivers import WebhookReceiver

SECRET = "e2e-signing-secret"

RULES = """
groups:
  - name: spend
    interval: 1s
    rules:
      - alert: AccountSpendHigh
        kind: threshold
        by: [account]
        window: 1h
        above: 100
        severity: warning
        annotations:
          summary: "{{labels.account}} spent {{money(value)}} in {{window}}"
      - alert: AccountSpendRunaway
        kind: threshold
        by: [account]
        window: 1h
        above: 1000
        severity: critical
"""


def post_spend(d, spend):
    """spend: {account: cost}"""
    body = "\n".join(event(a, c) for a, c in spend.items()).encode()
    status, answer = d.post("/v1/events", body)
    assert status == 200, answer


def receiver_yaml(r, **settings):
    extra = "".join(f"\n      {k}: {v}" for k, v in settings.items())
    return f"""
  - name: {r.name}
    webhook:
      url: {r.url}
      secret_env: WEBHOOK_SECRET{extra}"""


def start(workdir, daemons, receivers_yaml, route_yaml, inhibit_yaml="", rules=RULES, name="ingestd"):
    (workdir / "rules.yaml").write_text(rules)
    (workdir / "notify.yaml").write_text("receivers:" + receivers_yaml + "\nroute:\n" + route_yaml + inhibit_yaml)
    d = Daemon(workdir, name=name, env={
        "INGESTD_RULES_FILES": json.dumps([str(workdir / "rules.yaml"), str(workdir / "notify.yaml")]),
        "WEBHOOK_SECRET": SECRET,
    })
    daemons.append(d.start())
    return d


def receipts(d, **params):
    status, body = d.get("/v1/notifications?" + urllib.parse.urlencode({"limit": 1000, **params}))
    assert status == 200, body
    return json.loads(body)["notifications"]


def accounts_of(request):
    return sorted(a["labels"]["account"] for a in request.alerts)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def test_faulty_receivers_recover_and_every_notification_arrives_once_per_key(workdir, daemons):
    names = ["failing", "limited", "hanging", "resetting", "healthy"]
    rs = {n: WebhookReceiver(n, secret=SECRET).start() for n in names}
    try:
        rs["failing"].fail(500)                       # until recover()
        rs["limited"].rate_limit(retry_after=2, count=3)
        rs["hanging"].hang(max_seconds=120)           # until recover(); the daemon times out after 2s
        rs["resetting"].reset(count=4)
        settings = dict(timeout="2s", initial_backoff="1s", max_backoff="2s", max_age="10m")
        route = "  receiver: healthy\n  group_by: ['...']\n  group_wait: 0s\n  routes:\n" + "".join(
            f"    - receiver: {n}\n      continue: true\n" for n in names)
        d = start(workdir, daemons, "".join(receiver_yaml(r, **settings) for r in rs.values()), route)
        accounts = {f"acct{i:02d}": 150 for i in range(20)}
        post_spend(d, accounts)

        # The healthy receiver gets all 20 while the others are still failing or hanging.
        got = rs["healthy"].wait_for_count(20, timeout=30)
        assert rs["failing"].deliveries == [] and rs["hanging"].deliveries == [], "the faulty ones have not recovered yet"
        assert rs["hanging"].held >= 1 or rs["hanging"].attempts, "the hanging receiver was being tried meanwhile"
        latencies = []
        for r in got:
            for a in r.alerts:
                fired = calendar.timegm(time.strptime(a["startsAt"][:19], "%Y-%m-%dT%H:%M:%S")) + int(a["startsAt"][20:23]) / 1000
                latencies.append((r.received_wall - fired) * 1000)
        print(f"\nhealthy receiver, firing transition -> received while 4 others fail: "
              f"n={len(latencies)} p50={percentile(latencies, 50):.1f} ms p99={percentile(latencies, 99):.1f} ms")

        rs["failing"].recover()
        rs["hanging"].recover()
        for n in names:
            rs[n].wait_for_count(20, timeout=60)
        time.sleep(3)  # anything still retrying would show up as a duplicate now
        for n in names:
            r = rs[n]
            assert r.duplicates() == {}, (n, r.duplicates())
            assert len(r.unique_keys()) == 20, (n, len(r.unique_keys()))
            assert r.signature_failures() == [], (n, r.signature_failures()[:3])
            assert sorted(acct for q in r.deliveries for acct in accounts_of(q)) == sorted(accounts), n
            assert all(q.json["version"] == "4" and q.json["receiver"] == n for q in r.deliveries), n
        assert len(rs["failing"].failed_attempts) >= 1
        assert len(rs["resetting"].failed_attempts) == 4
        # 429 + Retry-After: 2 — the next attempt comes no sooner than 2 s later.
        limited = rs["limited"].attempts
        for before, after in zip(limited, limited[1:]):
            if before.status == 429:
                assert after.received_monotonic - before.received_monotonic >= 1.95, (before, after)
        # Receipts: everything delivered, with the attempts it took.
        rows = receipts(d)
        assert len(rows) == 100 and all(r["state"] == "delivered" for r in rows), [r["state"] for r in rows]
        by_receiver = {}
        for r in rows:
            by_receiver.setdefault(r["receiver"], []).append(r)
        assert max(r["attempts"] for r in by_receiver["failing"]) >= 2
        assert all(r["attempts"] == 1 for r in by_receiver["healthy"])
        m = d.metrics()
        assert 'ingestd_notifications_sent_total{receiver="failing"} 20' in m, m
        assert 'ingestd_notifications_queued{receiver="failing"} 0' in m
        log = (workdir / "ingestd.log").read_text()
        assert SECRET not in log and rs["healthy"].url not in log, "no secrets or receiver URLs in the log"
    finally:
        for r in rs.values():
            r.stop()


def test_kill9_with_100_notifications_queued_delivers_all_once_after_restart(workdir, daemons):
    r = WebhookReceiver("down", secret=SECRET).start()
    try:
        r.fail(500)
        route = "  receiver: down\n  group_by: ['...']\n  group_wait: 0s\n"
        d = start(workdir, daemons, receiver_yaml(r, timeout="2s", initial_backoff="1s", max_backoff="1s"), route)
        post_spend(d, {f"acct{i:03d}": 150 for i in range(100)})
        wait_for(lambda: len(receipts(d)) == 100, 30, "100 notifications queued")
        assert all(x["state"] in ("queued", "retrying") for x in receipts(d))
        d.kill9()
        r.recover()
        d.start()
        r.wait_for_count(100, timeout=60)
        time.sleep(3)
        assert len(r.deliveries) == 100, f"{len(r.deliveries)} deliveries: something was sent twice"
        assert r.duplicates() == {}
        assert len(r.unique_keys()) == 100
        assert r.signature_failures() == []
        assert len(receipts(d)) == 100, "the restart queued nothing new: the notification log remembered"
    finally:
        r.stop()


def test_fifty_alerts_of_one_group_are_one_notification_then_one_update_per_interval(workdir, daemons):
    r = WebhookReceiver("grouped", secret=SECRET).start()
    try:
        route = "  receiver: grouped\n  group_by: [alertname]\n  group_wait: 2s\n  group_interval: 3s\n"
        d = start(workdir, daemons, receiver_yaml(r), route)
        post_spend(d, {f"g{i:02d}": 150 for i in range(50)})
        first = r.wait_for_count(1, timeout=20)[0]
        assert len(first.alerts) == 50 and first.json["groupLabels"] == {"alertname": "AccountSpendHigh"}
        assert first.json["status"] == "firing"
        post_spend(d, {"g50": 150})
        second = r.wait_for_count(2, timeout=20)[1]
        assert len(second.alerts) == 51
        assert second.received_monotonic - first.received_monotonic >= 2.9, "updates wait for group_interval"
        time.sleep(4)
        assert len(r.deliveries) == 2, "nothing new: no more notifications until repeat_interval"
    finally:
        r.stop()


def test_a_silence_holds_notifications_back_and_its_expiry_restores_them(workdir, daemons):
    r = WebhookReceiver("plain", secret=SECRET).start()
    try:
        route = "  receiver: plain\n  group_by: [account]\n  group_wait: 0s\n  group_interval: 2s\n"
        d = start(workdir, daemons, receiver_yaml(r), route)
        status, body = d.post("/v1/silences", json.dumps({"matchers": '{account="quiet"}', "duration": "1h",
                                                          "createdBy": "e2e", "comment": "maintenance"}).encode(),
                              content_type="application/json")
        assert status == 201, body
        silence = json.loads(body)
        assert silence["state"] == "active"
        post_spend(d, {"quiet": 150, "loud": 150})
        r.wait_for_count(1, timeout=20)
        time.sleep(4)  # two group intervals
        assert [accounts_of(q) for q in r.deliveries] == [["loud"]]
        m = d.metrics()
        assert 'ingestd_notifications_muted_total{reason="silenced"}' in m
        # Listed, then expired by DELETE: the held-back alert is notified at its next interval.
        assert [s["id"] for s in json.loads(d.get("/v1/silences?state=active")[1])["silences"]] == [silence["id"]]
        status, body = http("DELETE", f"{d.url}/v1/silences/{silence['id']}")
        assert status == 200 and json.loads(body)["state"] == "expired", body
        second = r.wait_for_count(2, timeout=10)[1]
        assert accounts_of(second) == ["quiet"]
        # Bad silences are refused with a reason; the daemon keeps running.
        for bad, why in [({"matchers": '{account!="x"}', "duration": "1h", "createdBy": "e", "comment": "c"}, "every alert"),
                         ({"matchers": '{account="x"}', "createdBy": "e", "comment": "c"}, "endsAt"),
                         ({"matchers": '{account="x"}', "duration": "1h", "comment": "c"}, "createdBy"),
                         ({"matchers": '{account="x"}', "endsAt": 99999999999999999, "createdBy": "e", "comment": "c"}, "endsAt"),
                         ({"matchers": '{account="x', "duration": "1h", "createdBy": "e", "comment": "c"}, "matchers"),
                         ({"matchers": '{account="x"}', "startsAt": "9999-12-31T00:00:00Z", "duration": "366d", "createdBy": "e", "comment": "c"}, "9999-12-31")]:
            status, body = d.post("/v1/silences", json.dumps(bad).encode(), content_type="application/json")
            assert status == 400 and why in json.loads(body)["error"], (bad, status, body)
        assert d.get("/healthz")[0] == 200
    finally:
        r.stop()


def test_a_firing_critical_inhibits_the_warnings_of_its_account(workdir, daemons):
    r = WebhookReceiver("oncall", secret=SECRET).start()
    try:
        route = "  receiver: oncall\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 2s\n"
        inhibit = ("inhibit_rules:\n  - source_matchers: ['severity=\"critical\"']\n"
                   "    target_matchers: ['severity=\"warning\"']\n    equal: [account]\n")
        d = start(workdir, daemons, receiver_yaml(r), route, inhibit)
        post_spend(d, {"big": 1500, "small": 150})
        r.wait_for_count(2, timeout=20)
        time.sleep(3)
        got = sorted((q.alerts[0]["labels"]["account"], q.alerts[0]["labels"]["severity"]) for q in r.deliveries)
        assert got == [("big", "critical"), ("small", "warning")], got
        assert 'ingestd_notifications_muted_total{reason="inhibited"}' in d.metrics()
    finally:
        r.stop()


def test_a_dead_receivers_notifications_go_to_its_fallback_after_max_age(workdir, daemons):
    dead = WebhookReceiver("dead", secret=SECRET).start()
    backup = WebhookReceiver("backup", secret=SECRET).start()
    try:
        dead.fail(503)
        route = "  receiver: dead\n  fallback: backup\n  group_by: [account]\n  group_wait: 0s\n"
        d = start(workdir, daemons, receiver_yaml(dead, max_age="3s", initial_backoff="1s", max_backoff="1s") + receiver_yaml(backup), route)
        post_spend(d, {"x1": 150})
        got = backup.wait_for_count(1, timeout=30)[0]
        assert accounts_of(got) == ["x1"]
        assert len(dead.attempts) >= 2 and dead.deliveries == []
        rows = receipts(d)
        states = sorted((x["receiver"], x["state"]) for x in rows)
        assert states == [("backup", "delivered"), ("dead", "dead")], rows
        assert 'ingestd_notifications_dead_total{receiver="dead"} 1' in d.metrics()
    finally:
        dead.stop()
        backup.stop()


def test_sigterm_with_a_receiver_hanging_exits_at_once_and_the_restart_delivers_it_once(workdir, daemons):
    r = WebhookReceiver("stuck", secret=SECRET).start()
    try:
        r.hang(max_seconds=120)
        route = "  receiver: stuck\n  group_by: [account]\n  group_wait: 0s\n"
        d = start(workdir, daemons, receiver_yaml(r, timeout="10m"), route)
        post_spend(d, {"h1": 150})
        r.wait_for_held(1, timeout=20)
        began = time.monotonic()
        assert d.stop(timeout=15) == 0
        stopped_in = time.monotonic() - began
        print(f"\nSIGTERM with a request hanging (timeout 10m): exit 0 after {stopped_in:.2f} s")
        assert stopped_in < 10, "the hanging request was aborted, not waited for"
        r.recover()
        d.start()
        r.wait_for_count(1, timeout=20)
        time.sleep(2)
        assert len(r.deliveries) == 1 and r.duplicates() == {}
        assert [x["state"] for x in receipts(d)] == ["delivered"]
        assert receipts(d)[0]["attempts"] == 1, "an aborted request is not an attempt"
    finally:
        r.stop()


def test_receivers_and_routes_reload_with_the_rules_all_or_nothing(workdir, daemons):
    old = WebhookReceiver("old", secret=SECRET).start()
    new = WebhookReceiver("new", secret=SECRET).start()
    try:
        route = "  receiver: team\n  group_by: [account]\n  group_wait: 0s\n"
        d = start(workdir, daemons, receiver_yaml(old).replace("name: old", "name: team"), route)
        post_spend(d, {"r1": 150})
        old.wait_for_count(1, timeout=20)
        notify = workdir / "notify.yaml"
        # A broken edit (an unknown receiver) changes nothing and is reported with its position.
        notify.write_text(notify.read_text().replace("receiver: team", "receiver: teem"))
        wait_for(lambda: json.loads(d.get("/v1/rules")[1])["last_reload"]["successful"] is False, 10, "failed reload")
        errors = json.loads(d.get("/v1/rules")[1])["last_reload"]["errors"]
        assert any(e.startswith(f"{notify}:") and 'no receiver is named "teem"' in e for e in errors), errors
        # The team's webhook moves: the next notification goes to the new URL.
        notify.write_text(notify.read_text().replace("receiver: teem", "receiver: team").replace(old.url, new.url))
        wait_for(lambda: json.loads(d.get("/v1/rules")[1])["last_reload"]["successful"] is True, 10, "reload")
        post_spend(d, {"r2": 150})
        got = new.wait_for_count(1, timeout=20)
        assert accounts_of(got[0]) == ["r2"]
        assert len(old.deliveries) == 1
    finally:
        old.stop()
        new.stop()
