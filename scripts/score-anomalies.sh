#!/usr/bin/env bash
# The anomaly-quality score (README: Anomaly rules): backtests rules/anomaly.yaml and the two
# baselines in rules/baselines/ over the labeled dev corpus and scores each with
# ../shared/tools/score-alerts. Also runs the anomaly rule at a 5-minute resolution.
#   bash scripts/score-anomalies.sh        (INGESTD=path/to/ingestd to skip the build)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
CORPUS=${CORPUS:-$ROOT/../shared/data/cost-anomaly-dev}
SCORER=${SCORER:-$ROOT/../shared/tools/score-alerts}
if [[ -z ${INGESTD:-} ]]; then
  swift build --product ingestd >/dev/null
  INGESTD=$(swift build --show-bin-path)/ingestd
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed 's/resolution: 1h/resolution: 5m/' rules/anomaly.yaml > "$dir/anomaly-5m.yaml"
for rules in rules/anomaly.yaml "$dir/anomaly-5m.yaml" rules/baselines/static-threshold.yaml rules/baselines/zscore.yaml; do
  name=$(basename "$rules" .yaml)
  echo "== $name"
  "$INGESTD" backtest --rules "$rules" --print firing "$CORPUS/events.jsonl.gz" > "$dir/$name.ndjson" 2> "$dir/$name.log"
  "$SCORER" --labels "$CORPUS/labels.json" --alerts "$dir/$name.ndjson"
  echo
done
