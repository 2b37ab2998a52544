"""Cost Explorer polling end to end: the daemon's signed requests against botocore, moto's
server and a scripted fault server; restatements replace, the budget holds across restarts,
throttling backs off, expired credentials recover when the file is rewritten, and a rule from
rules/ fires on the polled series."""
import hashlib
import json
import time
from pathlib import Path

import pytest

from conftest import Daemon, http, wait_for
from costexplorer import FakeCostExplorer, Moto, anomaly, botocore_authorization, day, page

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "AKIDCOSTEXPLORER01", "ce-secret/EXAMPLE+key0000000000000000000"


@pytest.fixture
def fake():
    f = FakeCostExplorer().start()
    yield f
    f.stop()


def ce_daemon(workdir, daemons, endpoint, env=None, name="ingestd", credentials=True, **settings):
    base = {
        "INGESTD_COST_EXPLORER_ENABLED": "true",
        "INGESTD_COST_EXPLORER_ENDPOINT": endpoint,
        "INGESTD_COST_EXPLORER_INTERVAL": "1s",
        "INGESTD_COST_EXPLORER_RETRY_INITIAL": "1s",
        "INGESTD_COST_EXPLORER_LOOKBACK": "10d",
        "INGESTD_COST_EXPLORER_SETTLE": "2d",
        # No ambient AWS configuration leaks into a test.
        "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-such-credentials"),
        "AWS_CONFIG_FILE": str(workdir / "no-such-config"),
    }
    if credentials:
        base.update({"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET})
    for k, v in settings.items():
        base["INGESTD_COST_EXPLORER_" + k.upper()] = v
    base.update(env or {})
    d = Daemon(workdir, env=base, name=name)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        if k not in base:
            d.env.pop(k, None)
    daemons.append(d)
    return d


def ce_series(d, by="account,service"):
    return {(r["labels"]["account"], r["labels"]["service"]): r for r in
            d.series(match='{source="cost-explorer"}', window="10d", step="1h", by=by)["series"]}


def metric(d, name, **labels):
    """The sum of a metric's samples whose labels include `labels` (in any order)."""
    total = 0.0
    for line in d.metrics().splitlines():
        if line.startswith("#"):
            continue
        sample, value = line.rsplit(" ", 1)
        metric_name, _, rest = sample.partition("{")
        if metric_name == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(value)
    return total


def test_signed_requests_match_botocore_with_a_session_token_and_from_a_profile(workdir, daemons, fake):
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 5}})
    d = ce_daemon(workdir, daemons, fake.url, env={"AWS_SESSION_TOKEN": "session/token+EXAMPLE=="}).start()
    wait_for(lambda: len(fake.captured()) >= 1, 20, "a Cost Explorer request")
    first = fake.captured()[0]
    assert first.headers["x-amz-target"] == "AWSInsightsIndexService.GetCostAndUsage"
    assert first.headers["content-type"] == "application/x-amz-json-1.1"
    assert first.headers["x-amz-security-token"] == "session/token+EXAMPLE=="
    body = first.json
    assert body["Granularity"] == "DAILY" and body["Metrics"] == ["UnblendedCost"]
    assert body["GroupBy"] == [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]
    assert body["TimePeriod"] == {"Start": day(-10), "End": day(1)}
    assert first.headers["authorization"] == botocore_authorization(first, fake.url, KEY, SECRET, "session/token+EXAMPLE==")
    d.stop()

    # The same from a profile in a shared credentials file (no environment keys, no token).
    creds = workdir / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDWRONGPROFILE0000\naws_secret_access_key = wrong\n\n"
                     "[ce-reader]\naws_access_key_id = AKIDPROFILEKEY000001\naws_secret_access_key = profile/secret+KEY\n")
    before = len(fake.captured())
    p = ce_daemon(workdir, daemons, fake.url, name="profile", credentials=False,
                  env={"AWS_SHARED_CREDENTIALS_FILE": str(creds), "AWS_PROFILE": "ce-reader"}).start()
    wait_for(lambda: len(fake.captured()) > before, 20, "a request signed from the profile")
    signed = fake.captured()[before]
    assert "x-amz-security-token" not in signed.headers
    assert signed.key_id == "AKIDPROFILEKEY000001"
    assert signed.headers["authorization"] == botocore_authorization(signed, fake.url, "AKIDPROFILEKEY000001", "profile/secret+KEY")
    p.stop()


def test_moto_pages_are_all_ingested_and_a_later_poll_replaces(workdir, daemons):
    moto = Moto(workdir).start()
    try:
        d1, d2 = day(-3), day(-2)
        # Moto answers each distinct request body with the next queued result: the first poll's
        # three pages (each carries the previous page's token), then the second poll, which asks
        # only the unsettled days (another body) and gets restated amounts; later polls repeat
        # that body and get the same answer again.
        moto.queue([
            page({d1: {("111111111111", "AmazonEC2"): 10, ("111111111111", "AmazonS3"): 1.5}}, token="page-2"),
            page({d2: {("222222222222", "AmazonEC2"): 7.25}}, token="page-3"),
            page({d2: {("111111111111", "AmazonEC2"): 12}}),
            page({d2: {("111111111111", "AmazonEC2"): 9.5, ("222222222222", "AmazonEC2"): 8}}),
        ])
        d = ce_daemon(workdir, daemons, moto.url).start(ready_timeout=30)
        assert d.get("/v1/aws-anomalies")[0] == 404  # not asked for: cost_explorer.aws_anomalies is off
        wait_for(lambda: metric(d, "ingestd_cost_explorer_requests_total") >= 6, 30, "three more polls")
        got = ce_series(d)
        assert {k: v["sum"] for k, v in got.items()} == {
            ("111111111111", "AmazonEC2"): 19.5, ("111111111111", "AmazonS3"): 1.5, ("222222222222", "AmazonEC2"): 8.0}
        assert metric(d, "ingestd_cost_explorer_values_total", result="new") == 4
        assert metric(d, "ingestd_cost_explorer_values_total", result="replaced") == 2
        assert metric(d, "ingestd_cost_explorer_values_total", result="unchanged") >= 2
        requests = metric(d, "ingestd_cost_explorer_requests_total")
        assert metric(d, "ingestd_cost_explorer_pages_total") == requests
        assert abs(metric(d, "ingestd_cost_explorer_spend_usd_total") - 0.01 * requests) < 1e-9
        # Cost Explorer series carry their source; streamed ones theirs.
        assert all(r["labels"]["source"] == "cost-explorer" and r["labels"]["currency"] == "USD"
                   for r in d.series(window="10d", step="1h")["series"])
    finally:
        moto.stop()


def test_a_restatement_replaces_the_amount_and_a_restart_keeps_it_exact(workdir, daemons, fake):
    yesterday, today = day(-1), day(0)
    amounts = {"ec2": 10.0}
    fake.results = lambda r: page({yesterday: {("111111111111", "AmazonEC2"): amounts["ec2"]},
                                   today: {("111111111111", "AmazonEC2"): 1}}, estimated_days={today} | ({yesterday} if amounts["ec2"] == 10 else set()))
    d = ce_daemon(workdir, daemons, fake.url).start()
    row = ce_series(d)[("111111111111", "AmazonEC2")]
    assert row["sum"] == 11 and row["estimated"] is True
    n = len(fake.captured())
    wait_for(lambda: len(fake.captured()) >= n + 3, 20, "three more polls")
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 11, "repeated polls must not add up"

    amounts["ec2"] = 8.5  # restated down
    wait_for(lambda: ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 9.5, 20, "the restated amount")
    assert metric(d, "ingestd_cost_explorer_values_total", result="replaced") >= 1
    # Yesterday alone is no longer an estimate; today still is.
    one_day = d.series(match='{source="cost-explorer"}', window="1h", step="1h", at=yesterday + "T00:30:00Z", by="account")["series"]
    assert one_day[0]["sum"] == 8.5 and "estimated" not in one_day[0]

    d.kill9()
    amounts["ec2"] = 9.0
    before = len(fake.captured())
    d.start()
    wait_for(lambda: ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 10, 20, "the restatement after kill -9")
    # The restart asked only for periods that can still change, not the whole lookback again.
    assert all(c.json["TimePeriod"]["Start"] == day(-2) for c in fake.captured()[before:])


def test_empty_and_malformed_answers_are_clear_errors_and_the_daemon_keeps_running(workdir, daemons, fake):
    # Refused answers are asked again after a backoff (0.5-1 s, then 1-2 s); the empty one
    # completes a poll; the next poll (interval 1s) brings data.
    fake.script = [(200, b"<html>not json</html>"), (200, b'{"ResultsByTime": [{"TimePeriod": {"Start": "yesterday"}}]}'),
                   (200, b'{"ResultsByTime": []}')]
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 3}})
    d = ce_daemon(workdir, daemons, fake.url)
    d.start(wait_ready=False)
    wait_for(lambda: b"not a GetCostAndUsage result" in d.get("/readyz")[1], 20, "the malformed answer in /readyz")
    wait_for(lambda: ("111111111111", "AmazonEC2") in ce_series(d), 30, "the data of a good answer")
    assert d.get("/readyz")[0] == 200
    log = d.log_path.read_text()
    assert "Cost Explorer returned no periods" in log
    assert "is not a date" in log
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 3
    assert d.proc.poll() is None


def test_throttling_and_5xx_back_off_exponentially_with_jitter(workdir, daemons, fake):
    fake.throttle(1)
    fake.throttle(1, "com.amazonaws.awsinsightsindexservice#LimitExceededException")
    fake.fail(503)
    fake.fail(500)
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 2}})
    d = ce_daemon(workdir, daemons, fake.url, interval="1h", retry_max="30s").start(ready_timeout=60)
    times = [c.at for c in fake.captured()[:5]]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # retry_initial 1s, doubling, each drawn from [d/2, d]: 0.5-1, 1-2, 2-4, 4-8 s.
    for gap, (lo, hi) in zip(gaps, [(0.5, 1), (1, 2), (2, 4), (4, 8)]):
        assert lo - 0.05 <= gap <= hi + 1.0, gaps
    assert gaps[3] > gaps[1] > 0, gaps
    assert metric(d, "ingestd_cost_explorer_answers_total", outcome="retried") == 4


def test_an_expired_token_is_reported_and_recovers_when_the_credentials_file_is_rewritten(workdir, daemons, fake):
    creds = workdir / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIDEXPIRED000000001\naws_secret_access_key = expired-secret-Q7x\n")
    fake.refused_keys.add("AKIDEXPIRED000000001")
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 4}})
    d = ce_daemon(workdir, daemons, fake.url, credentials=False, env={"AWS_SHARED_CREDENTIALS_FILE": str(creds)})
    d.start(wait_ready=False)
    wait_for(lambda: b"credentials" in d.get("/readyz")[1], 20, "the credential problem in /readyz")
    status, body = d.get("/readyz")
    assert status == 503 and b"ExpiredTokenException" in body, body
    assert metric(d, "ingestd_cost_explorer_credential_errors_total") >= 1
    assert "expired-secret-Q7x" not in body.decode() and "expired-secret-Q7x" not in d.log_path.read_text(), "no secret in the health answer or the log"
    # Stale Cost Explorer series do not pause the rules of the other sources.
    assert "evaluation_paused" not in json.loads(d.get("/v1/rules")[1])
    creds.write_text("[default]\naws_access_key_id = AKIDROTATED000000002\naws_secret_access_key = new\n")
    d.wait_ready(30)
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 4
    assert fake.captured()[-1].key_id == "AKIDROTATED000000002"


def test_the_daily_request_budget_is_never_exceeded_even_across_a_restart(workdir, daemons, fake):
    # Every answer has another page: only the budget stops the daemon.
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 1}}, token=f"t{len(fake.requests)}")
    d = ce_daemon(workdir, daemons, fake.url, budget_per_day="0.05")
    d.start(wait_ready=False)
    wait_for(lambda: b"budget" in d.get("/readyz")[1], 20, "the spent budget in /readyz")
    time.sleep(3)
    assert len(fake.captured()) == 5
    assert metric(d, "ingestd_cost_explorer_requests_total") == 5
    assert metric(d, "ingestd_cost_explorer_budget_refusals_total") >= 1
    d.stop()
    d.start(wait_ready=False)
    wait_for(lambda: b"budget" in d.get("/readyz")[1], 20, "the budget still spent after a restart")
    time.sleep(2)
    assert len(fake.captured()) == 5


def test_a_rule_from_rules_fires_on_cost_explorer_series(workdir, daemons, fake):
    rules = workdir / "rules"
    rules.mkdir()
    # The example file as shipped, evaluated every second instead of every 5 minutes.
    text = (ROOT / "rules" / "cost-explorer.yaml").read_text()
    assert "interval: 5m" in text
    (rules / "cost-explorer.yaml").write_text(text.replace("interval: 5m", "interval: 1s"))
    ec2 = {"amount": 1200}
    fake.results = lambda r: page({day(0): {("333333333333", "AmazonEC2"): ec2["amount"], ("333333333333", "AmazonS3"): 3}})
    d = ce_daemon(workdir, daemons, fake.url, env={"INGESTD_RULES_FILES": json.dumps([str(rules / "*.yaml")])}).start()

    def firing():
        status, body = d.get("/v1/alerts")
        return [a for a in json.loads(body)["alerts"] if a["state"] == "firing"] if status == 200 else []
    wait_for(lambda: firing(), 30, "the Cost Explorer alert")
    alert = firing()[0]
    assert alert["labels"]["account"] == "333333333333" and alert["labels"]["service"] == "AmazonEC2"
    assert alert["labels"]["alertname"] == "CostExplorerDailyServiceSpendHigh"

    # Cost Explorer restates the day: the firing alert is amended, not resolved and fired again.
    ec2["amount"] = 1500

    def history():
        return [(h["state"], h["value"]) for h in json.loads(d.get("/v1/alerts/history")[1])["transitions"]
                if h["labels"].get("service") == "AmazonEC2"]
    wait_for(lambda: ("amended", 1500) in history(), 30, "the amended alert")
    states = [state for state, _ in history()]
    assert states.count("firing") == 1 and "resolved" not in states and states[-1] == "amended", states


def test_sigterm_during_a_request_that_never_answers_exits_within_the_grace(workdir, daemons, fake):
    fake.hang_seconds = 120
    d = ce_daemon(workdir, daemons, fake.url, env={"INGESTD_SHUTDOWN_GRACE": "10s"})
    d.start(wait_ready=False)
    wait_for(lambda: len(fake.captured()) >= 1, 20, "a request in flight")
    began = time.monotonic()
    assert d.stop(timeout=15) == 0
    assert time.monotonic() - began < 5, "the request in flight was not aborted"


def test_periods_outside_the_request_are_left_out(workdir, daemons, fake):
    fake.results = lambda r: page({"9999-12-30": {("111111111111", "AmazonEC2"): 5}, day(-20): {("111111111111", "AmazonEC2"): 6},
                                   day(-1): {("111111111111", "AmazonEC2"): 7}})
    d = ce_daemon(workdir, daemons, fake.url, interval="1h").start()
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 7
    assert metric(d, "ingestd_cost_explorer_values_total", reason="period_outside_request", result="rejected") == 2
    # The rings were not moved to year 9999: the day before is still there.
    assert d.series(match='{source="cost-explorer"}', window="1h", step="1h", at=day(-1) + "T00:10:00Z", by="")["series"][0]["sum"] == 7


def test_aws_anomalies_are_fetched_page_by_page_and_shown_by_scope(workdir, daemons, fake):
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 1}})

    def anomalies(r):
        if "NextPageToken" not in r.json:
            return {"Anomalies": [anomaly("a-1", "111111111111", "AmazonEC2", 120.5)], "NextPageToken": "p2"}
        return {"Anomalies": [anomaly("a-2", "222222222222", "AmazonS3", 40)]}
    fake.anomalies = anomalies
    everyone, only_a = "reader-all-0123456789abcdef", "reader-a-0123456789abcdef"
    tokens = json.dumps([
        {"name": "all", "sha256": hashlib.sha256(everyone.encode()).hexdigest(), "role": "read"},
        {"name": "a", "sha256": hashlib.sha256(only_a.encode()).hexdigest(), "role": "read", "accounts": ["111111111111"]}])
    d = ce_daemon(workdir, daemons, fake.url, interval="1h", aws_anomalies="true", env={"INGESTD_AUTH_TOKENS": tokens}).start()

    def get(token):
        status, body = http("GET", d.url + "/v1/aws-anomalies", headers={"Authorization": f"Bearer {token}"})
        assert status == 200, body
        return json.loads(body)
    wait_for(lambda: len(get(everyone)["anomalies"]) == 2, 20, "both pages of AWS anomalies")
    shown = get(everyone)
    assert [a["id"] for a in shown["anomalies"]] == ["a-1", "a-2"] and shown["fetchedAt"]
    first = shown["anomalies"][0]
    assert first["impact"]["totalImpact"] == 120.5 and first["rootCauses"][0]["linkedAccount"] == "111111111111"
    asked = [c for c in fake.captured() if c.headers["x-amz-target"] == "AWSInsightsIndexService.GetAnomalies"]
    assert len(asked) == 2 and asked[0].json["DateInterval"] == {"StartDate": day(-10), "EndDate": day(1)}
    assert asked[1].json["NextPageToken"] == "p2"
    assert asked[0].headers["authorization"] == botocore_authorization(asked[0], fake.url, KEY, SECRET)
    # A token for account 111111111111 sees only its anomaly.
    assert [a["id"] for a in get(only_a)["anomalies"]] == ["a-1"]
    assert http("GET", d.url + "/v1/aws-anomalies")[0] == 401



def test_another_metric_after_a_restart_starts_the_partition_over(workdir, daemons, fake):
    amounts = {"UnblendedCost": 10, "AmortizedCost": 4}

    def answer(r):
        metric_name = r.json["Metrics"][0]
        out = page({day(-1): {("111111111111", "AmazonEC2"): amounts[metric_name]}})
        for result in out["ResultsByTime"]:
            for g in result["Groups"]:
                g["Metrics"] = {metric_name: g["Metrics"]["UnblendedCost"]}
        return out
    fake.results = answer
    d = ce_daemon(workdir, daemons, fake.url, interval="1h").start()
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 10
    d.stop()
    d.env["INGESTD_COST_EXPLORER_METRIC"] = "AmortizedCost"
    before = len(fake.captured())
    d.start()
    # Not 10 + 4, nor 10 replaced only for the unsettled days: the AmortizedCost history alone.
    assert ce_series(d)[("111111111111", "AmazonEC2")]["sum"] == 4
    first = fake.captured()[before].json
    assert first["Metrics"] == ["AmortizedCost"] and first["TimePeriod"]["Start"] == day(-10)
    assert "cost-explorer state" in d.log_path.read_text() and "AmortizedCost" in d.log_path.read_text()


def test_hourly_periods_land_in_their_hours(workdir, daemons, fake):
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc).replace(minute=0, second=0, microsecond=0)
    hours = [now - datetime.timedelta(hours=h) for h in (3, 2, 1)]
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731

    def answer(r):
        return {"ResultsByTime": [
            {"TimePeriod": {"Start": stamp(t), "End": stamp(t + datetime.timedelta(hours=1))}, "Total": {}, "Estimated": True,
             "Groups": [{"Keys": ["111111111111", "AmazonEC2"], "Metrics": {"UnblendedCost": {"Amount": str(i + 1), "Unit": "USD"}}}]}
            for i, t in enumerate(hours)]}
    fake.results = answer
    d = ce_daemon(workdir, daemons, fake.url, interval="1h", granularity="HOURLY", lookback="2d", settle="1d").start()
    asked = fake.captured()[0].json
    assert asked["Granularity"] == "HOURLY"
    # Through the hour in progress (the next one, should the clock have just crossed an hour).
    assert asked["TimePeriod"]["End"] in (stamp(now + datetime.timedelta(hours=1)), stamp(now + datetime.timedelta(hours=2)))
    for i, t in enumerate(hours):
        row = d.series(match='{source="cost-explorer"}', window="1h", step="1h", at=stamp(t + datetime.timedelta(minutes=30)), by="")["series"][0]
        assert row["sum"] == i + 1 and row["estimated"] is True
    # The last 4 hourly buckets (the one in progress and the three before) hold all three.
    at = stamp(now + datetime.timedelta(minutes=30))
    assert d.series(match='{source="cost-explorer"}', window="4h", step="1h", at=at, by="account")["series"][0]["sum"] == 6


def test_a_refused_signature_is_reported_without_the_canonical_request_aws_quotes(workdir, daemons, fake):
    token = "session-token-SECRET-0123456789"
    quoted = ("The request signature we calculated does not match the signature you provided. The Canonical String "
              f"for this request should have been 'POST\\n/\\n\\ncontent-type:application/x-amz-json-1.1\\nx-amz-security-token:{token}\\n'")
    fake.script = [(403, json.dumps({"__type": "SignatureDoesNotMatch", "message": quoted}).encode())]
    fake.results = lambda r: page({day(-1): {("111111111111", "AmazonEC2"): 2}})
    d = ce_daemon(workdir, daemons, fake.url, env={"AWS_SESSION_TOKEN": token})
    d.start(wait_ready=False)
    wait_for(lambda: b"SignatureDoesNotMatch" in d.get("/readyz")[1] or d.get("/readyz")[0] == 200, 20, "the refused signature")
    d.wait_ready(30)
    log = d.log_path.read_text()
    assert "SignatureDoesNotMatch" in log and token not in log, log
