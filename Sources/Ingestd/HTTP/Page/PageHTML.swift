/// The live page's markup (served at /). Everything dynamic is filled in by PageScript with
/// DOM methods and textContent, never by parsing API data as HTML.
enum PageHTML {
    static let text = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ingestd — live spend</title>
<link rel="icon" href="/ui/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/app.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header>
  <h1>ingestd</h1>
  <form id="token-form">
    <label for="token">Token</label>
    <input id="token" type="password" autocomplete="off" placeholder="bearer token (when auth is on)" spellcheck="false">
    <button type="submit">Use</button>
    <button type="button" id="token-clear">Forget</button>
  </form>
  <span id="live" class="status" data-mode="connecting">connecting…</span>
</header>
<p id="error" class="error" hidden></p>
<main>
  <section id="charts">
    <div class="section-head">
      <h2>Spend</h2>
      <label>last
        <select id="window">
          <option value="1h" data-step="1m">1 hour</option>
          <option value="6h" data-step="1m" selected>6 hours</option>
          <option value="24h" data-step="1h">24 hours</option>
          <option value="7d" data-step="1h">7 days</option>
        </select>
      </label>
      <span id="series-updated" class="muted"></span>
    </div>
    <figure class="chart" id="chart-account"><figcaption>per account</figcaption><svg viewBox="0 0 640 220" role="img" aria-label="spend per account"></svg><ul class="legend"></ul></figure>
    <figure class="chart" id="chart-service"><figcaption>per service</figcaption><svg viewBox="0 0 640 220" role="img" aria-label="spend per service"></svg><ul class="legend"></ul></figure>
  </section>
  <section id="alerts" data-source="none">
    <h2>Active alerts <span id="alert-count" class="muted"></span></h2>
    <p id="no-alerts" class="muted">No active alerts.</p>
    <ul id="alert-list"></ul>
  </section>
  <section id="transitions">
    <h2>Transitions</h2>
    <p class="muted">Newest first: alert transitions, notification receipts and rule reloads.</p>
    <ol id="transition-list" reversed></ol>
  </section>
</main>
</body>
</html>
"""#
}
