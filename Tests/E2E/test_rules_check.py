"""`ingestd rules check`: the real binary validates rule files offline against the config's store."""
import subprocess

from conftest import ROOT, ingestd_bin


def check(*args, cwd=ROOT):
    run = subprocess.run([ingestd_bin(), "rules", "check", *args], cwd=cwd, capture_output=True, timeout=60)
    return run.returncode, run.stdout.decode(), run.stderr.decode()


def test_the_example_rules_pass_with_the_default_config():
    # No FILES: the config's rules.files (rules/*.yaml, relative to the working directory).
    code, out, err = check("--config", "etc/ingestd.yaml")
    assert code == 0, err
    assert out == ("rules/anomaly.yaml: OK, 1 group, 1 rule\nrules/cost-explorer.yaml: OK, 1 group, 1 rule\n"
                   "rules/spend.yaml: OK, 3 groups, 4 rules\n"
                   "notifications: no route: defined, alerts are not notified\n")
    assert err == ""
    # Named files, and the built-in defaults without --config, give the same answer.
    code, out, err = check(str(ROOT / "rules" / "spend.yaml"))
    assert code == 0, err
    assert out.startswith(f"{ROOT / 'rules' / 'spend.yaml'}: OK, 3 groups, 4 rules\n")


def test_the_demo_rules_and_routes_pass_and_a_missing_secret_is_named():
    import os
    env = dict(os.environ, DEMO_WEBHOOK_SECRET="demo")
    run = subprocess.run([ingestd_bin(), "rules", "check", "rules/spend.yaml", "rules/demo/spike.yaml", "rules/demo/notify.yaml"],
                         cwd=ROOT, capture_output=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.decode().endswith("notifications: OK, 1 receiver (demo-webhook), 1 route, 0 inhibit rules\n")
    env.pop("DEMO_WEBHOOK_SECRET")
    run = subprocess.run([ingestd_bin(), "rules", "check", "rules/demo/notify.yaml"], cwd=ROOT, capture_output=True, timeout=60, env=env)
    assert run.returncode == 1
    assert "rules/demo/notify.yaml:8:" in run.stderr.decode() and "DEMO_WEBHOOK_SECRET is not set" in run.stderr.decode()


BROKEN = """\
groups:
  - name: spend
    rules:
      - alert: Hourly
        kind: threshold
        window: 90s
        above: 250
        by: [acount]
        annotations:
          summary: "{{money(valeu)}} in {{labels.account}}"
      - alert: Jump
        kind: change
        window: 1h
        above: 50%
        min_change: -1
      - alert: Budget
        kind: budget
        amount: 10000
        basis: [actual, projected]
        annotations:
          summary: "{{#no_data}}never closed"
  - name: spend
    rules:
      - alert: Other
        kind: anomaly
"""


def test_a_broken_file_reports_every_mistake_with_its_position(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    good = tmp_path / "good.yaml"
    good.write_text("groups: [{name: fine, rules: [{alert: A, kind: threshold, window: 1h, above: 1}]}]\n")
    code, out, err = check("--config", str(ROOT / "etc" / "ingestd.yaml"), str(good), str(path))
    assert code == 1
    assert out == ""  # nothing is OK unless everything is
    p = str(path)
    expected = [
        f"{p}:6:17: no resolution in store.resolutions holds the window 90s: 1m buckets do not tile 90s; 1h buckets do not tile 90s",
        f'{p}:8:14: by: "acount" is not a store label (did you mean "account"?)',
        f'{p}:10:20: annotations.summary: unknown variable "valeu" (did you mean "value"?)',
        f"{p}:10:20: annotations.summary: labels.account is not a label of this rule's alerts",
        f'{p}:11:9: change rule "Jump" needs offset:',
        f"{p}:15:21: min_change must be ≥ 0",
        f"{p}:19:25: basis[] must be one of actual, forecast",
        f"{p}:21:20: annotations.summary: template syntax error at line 1, column 25: a section is never closed",
        f'{p}:22:11: duplicate group name "spend" (first at {p}:2:11)',
        f'{p}:24:9: anomaly rule "Other" needs min_impact: {{amount: A, percent: P}}',
    ]
    lines = err.splitlines()
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), f"missing {prefix!r} in:\n{err}"
    assert len(lines) == len(expected) + 1, err
    assert lines[-1] == f"ingestd: {len(expected)} errors in rule files"


def test_config_patterns_store_labels_and_a_pattern_matching_nothing(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "team.yaml").write_text(
        "groups: [{name: t, rules: [{alert: A, kind: threshold, by: [team], window: 1h, above: 1}]}]\n")
    config = tmp_path / "ingestd.yaml"
    # `team` is a store label only when the config says so; patterns resolve from the working directory.
    config.write_text('store:\n  labels: [team]\nrules:\n  files: ["rules/*.yaml", "more/*.yaml"]\n')
    code, out, err = check("--config", str(config), cwd=tmp_path)
    assert code == 1
    assert err.splitlines() == [f'{config}:4:10: rules.files: "more/*.yaml" matches no file', "ingestd: 1 error in rule files"]
    config.write_text('store:\n  labels: [team]\nrules:\n  files: ["rules/*.yaml"]\n  evaluation_interval: 30s\n')
    code, out, err = check("--config", str(config), cwd=tmp_path)
    assert (code, out, err) == (0, "rules/team.yaml: OK, 1 group, 1 rule\nnotifications: no route: defined, alerts are not notified\n", "")
    config.write_text("rules:\n  files: [rules/*.yaml]\n")
    code, out, err = check("--config", str(config), cwd=tmp_path)
    assert code == 1 and 'rules/team.yaml:1:61: by: "team" is not a store label' in err, err


def test_an_invalid_config_is_reported_and_fails(tmp_path):
    config = tmp_path / "ingestd.yaml"
    config.write_text("rules:\n  evaluation_interval: 0s\n  file: x\n")
    code, out, err = check("--config", str(config), cwd=tmp_path)
    assert code == 1
    assert f"{config}:2:24: rules.evaluation_interval must be at least 1s" in err, err
    assert f'{config}:3:3: unknown key "rules.file" (did you mean "files"?)' in err, err


def test_the_example_rules_pass_their_unit_tests_and_a_wrong_expectation_fails(tmp_path):
    """`ingestd rules test` on rules/tests/*.yaml (what CI runs for the example rules), and the
    same file with one expected annotation changed, which must fail and say what differed."""
    tests = sorted(str(p) for p in (ROOT / "rules" / "tests").glob("*.yaml"))
    assert tests
    p = subprocess.run([ingestd_bin(), "rules", "test", *tests], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 failed" in p.stdout and "PASS" in p.stdout
    original = (ROOT / "rules" / "tests" / "spend_test.yaml").read_text()
    broken = tmp_path / "spend_test.yaml"
    broken.write_text(original.replace("rule_files: [../spend.yaml]", f"rule_files: [{ROOT / 'rules' / 'spend.yaml'}]")
                      .replace("$480.00", "$490.00"))
    p = subprocess.run([ingestd_bin(), "rules", "test", str(broken)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert f"{broken}:15:9:" in p.stdout and "expected but not firing" in p.stdout and "$480.00" in p.stdout, p.stdout
