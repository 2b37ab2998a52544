#!/usr/bin/env python3
"""Demo cost events for `make demo`: NDJSON in the coststream format on stdout.

A few hours of ordinary spend for five accounts (one event per account, service and region about
every five minutes, a few dollars each: about $55 per account and hour; the same hours a week
earlier, hourly, for week-over-week rules), then, in the last few
minutes, a runaway SageMaker job in one account: about $300 within four minutes, which the demo
rule (rules/demo/spike.yaml: more than $100 in 5 minutes) turns into an alert. The events end at
the current time; `ingestd produce --shift-to-now` moves them to end exactly when it sends them.

    python3 scripts/demo-events.py [--hours 6] [--seed 14] > events.ndjson
"""
import argparse
import json
import random
import sys
import time

ACCOUNTS = ["111111111111", "222222222222", "333333333333", "444444444444", "555555555555"]
SPIKE_ACCOUNT = "333333333333"
# service, region, mean cost per five minutes (USD)
SERIES = [
    ("AmazonEC2", "us-east-1", 2.50),
    ("AmazonEC2", "eu-west-1", 0.90),
    ("AmazonRDS", "us-east-1", 0.80),
    ("AmazonS3", "us-east-1", 0.30),
    ("AWSLambda", "eu-west-1", 0.15),
]
STEP_SECONDS = 300


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def event(rng, account, service, region, cost, at):
    return {
        "accountId": account,
        "service": service,
        "region": region,
        "resourceId": f"{service.lower()}-{account[-4:]}-{rng.randrange(16**6):06x}",
        "cost": round(cost, 6),
        "currency": "USD",
        "timestamp": iso(at),
        "metadata": {"usageType": f"{region}:{service}:Usage", "source": "demo"},
    }


def generate(hours, seed, end):
    rng = random.Random(seed)
    events = []
    start = end - hours * 3600
    for account in ACCOUNTS:
        scale = rng.uniform(0.8, 1.2)  # accounts differ a little
        for service, region, mean in SERIES:
            offset = rng.randrange(STEP_SECONDS)  # series do not all report at :00
            at = start + offset
            while at <= end - 5:
                cost = mean * scale * rng.uniform(0.7, 1.3)
                events.append(event(rng, account, service, region, cost, min(end, at + rng.randrange(-20, 21))))
                at += STEP_SECONDS
    # The same hours a week earlier, one event per series and hour: the example rule
    # ServiceSpendJump (rules/spend.yaml) compares 6 h with 6 h a week ago, and without this
    # history every service would look like an infinite jump and page half an hour in.
    week_ago = start - 7 * 86400
    for account in ACCOUNTS:
        for service, region, mean in SERIES:
            for hour in range(hours):
                cost = mean * (3600 / STEP_SECONDS) * rng.uniform(0.9, 1.1)
                events.append(event(rng, account, service, region, cost, week_ago + hour * 3600 + 1800))
    # The spike: a training job left running, billed every 20 s over the last four minutes.
    for i in range(12):
        at = end - 240 + i * 20
        events.append(event(rng, SPIKE_ACCOUNT, "AmazonSageMaker", "us-east-1", rng.uniform(22, 28), at))
    events.sort(key=lambda e: e["timestamp"])
    return events


def main():
    parser = argparse.ArgumentParser(description="Demo cost events (coststream NDJSON) with a spike at the end.")
    parser.add_argument("--hours", type=int, default=6, help="hours of ordinary history (default 6)")
    parser.add_argument("--seed", type=int, default=14, help="random seed (default 14)")
    args = parser.parse_args()
    if not 1 <= args.hours <= 40:
        parser.error("--hours must be 1 to 40 (the demo store keeps 48 h of minutes)")
    events = generate(args.hours, args.seed, int(time.time()))
    out = sys.stdout
    for e in events:
        out.write(json.dumps(e, separators=(",", ":")) + "\n")
    spike = sum(e["cost"] for e in events if e["service"] == "AmazonSageMaker")
    print(f"demo-events: {len(events)} events over {args.hours} h for {len(ACCOUNTS)} accounts; "
          f"spike: ${spike:,.2f} of AmazonSageMaker in account {SPIKE_ACCOUNT} in the last 4 minutes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
