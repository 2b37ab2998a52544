"""A scripted Cost Explorer on loopback for the tests: it records every request (arrival time,
headers, body) and answers from a script (throttling, expired tokens, malformed bodies), then
with `results(request)` — GetCostAndUsage pages built by the test. Faults moto cannot play.
Also: moto's server (a second, independent Cost Explorer) and botocore as the SigV4 oracle."""
import datetime
import json
import re
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port, wait_for


class Captured:
    def __init__(self, at, path, headers, body):
        self.at = at
        self.path = path
        self.headers = headers  # lower-case name -> value
        self.body = body

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def key_id(self):
        m = re.search(r"Credential=([^/]+)/", self.headers.get("authorization", ""))
        return m.group(1) if m else None


def day(offset_days=0):
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset_days)
    return d.isoformat()


def page(days_groups, token=None, estimated_days=()):
    """A GetCostAndUsage answer: {date: {(account, service): amount}} grouped by LINKED_ACCOUNT, SERVICE."""
    results = []
    for d in sorted(days_groups):
        end = (datetime.date.fromisoformat(d) + datetime.timedelta(days=1)).isoformat()
        results.append({
            "TimePeriod": {"Start": d, "End": end}, "Total": {},
            "Groups": [{"Keys": [a, s], "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
                       for (a, s), v in sorted(days_groups[d].items())],
            "Estimated": d in estimated_days})
    out = {"ResultsByTime": results, "DimensionValueAttributes": [],
           "GroupDefinitions": [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "DIMENSION", "Key": "SERVICE"}]}
    if token:
        out["NextPageToken"] = token
    return out


class FakeCostExplorer:
    def __init__(self):
        self.requests: list[Captured] = []
        self.script = []  # (status, body bytes) answered first, in order
        self.results = lambda request: page({})
        self.anomalies = lambda request: {"Anomalies": []}  # GetAnomalies answers
        self.refused_keys = set()  # key ids answered 403 ExpiredTokenException
        self.hang_seconds = 0  # answer this late (a Cost Explorer that does not answer)
        self.lock = threading.Lock()
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                captured = Captured(time.monotonic(), self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake.requests.append(captured)
                    hang = fake.hang_seconds
                    scripted = fake.script.pop(0) if fake.script else None
                    refused = captured.key_id in fake.refused_keys
                if hang:
                    time.sleep(hang)
                if refused:
                    status, out = 403, json.dumps({"__type": "com.amazon.coral.service#ExpiredTokenException",
                                                   "message": "The security token included in the request is expired"}).encode()
                elif scripted:
                    status, out = scripted
                elif captured.headers.get("x-amz-target", "").endswith(".GetAnomalies"):
                    status, out = 200, json.dumps(fake.anomalies(captured)).encode()
                else:
                    status, out = 200, json.dumps(fake.results(captured)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def captured(self):
        with self.lock:
            return list(self.requests)

    def throttle(self, times, type="ThrottlingException"):
        body = json.dumps({"__type": type, "message": "Rate exceeded"}).encode()
        with self.lock:
            self.script += [(400, body)] * times

    def fail(self, status, times=1):
        with self.lock:
            self.script += [(status, b'{"message": "internal failure"}')] * times


def anomaly(anomaly_id, account, service, impact):
    """One GetAnomalies item."""
    return {"AnomalyId": anomaly_id, "AnomalyStartDate": day(-2), "AnomalyEndDate": day(-1), "DimensionValue": service,
            "MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/m-1",
            "RootCauses": [{"Service": service, "Region": "us-east-1", "LinkedAccount": account, "UsageType": "BoxUsage"}],
            "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.4},
            "Impact": {"MaxImpact": impact / 2, "TotalImpact": impact, "TotalActualSpend": impact * 2,
                       "TotalExpectedSpend": impact, "TotalImpactPercentage": 100.0}}


class Moto:
    """moto's server: queue GetCostAndUsage answers with `queue`, each distinct request body takes the next."""

    def __init__(self, workdir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "moto.log", "ab")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=self.log)

        def up():
            try:
                return urllib.request.urlopen(self.url + "/moto-api/", timeout=1).status == 200
            except Exception:
                return False
        wait_for(up, 30, "moto_server")
        return self

    def queue(self, results):
        req = urllib.request.Request(self.url + "/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": results}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(req, timeout=5).status == 201

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)


def botocore_authorization(captured: Captured, url, access_key, secret_key, token=None, region="us-east-1", service="ce"):
    """What botocore signs for the same request (method, URL, body and the headers the daemon
    signed) at the same X-Amz-Date: the independent oracle."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    stamp = datetime.datetime.strptime(captured.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    headers = {"Content-Type": captured.headers["content-type"], "X-Amz-Target": captured.headers["x-amz-target"],
               "Host": captured.headers["host"]}
    request = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=captured.body, headers=headers)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: stamp
    try:
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, secret_key, token), service, region).add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return request.headers["Authorization"]
