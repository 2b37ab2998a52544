/// Alerts: rules, detectors, alert state, routing and notifiers (PRODUCT.md §3–5) will live here,
/// as Alertmanager's parts do: Rules/, Detectors/, State/, Dispatch/, Notify/<integration>/.
/// They read the window store through `WindowStore.query` at each evaluation tick (never on the
/// event path) and persist into the same SQLite file through `StreamSchema`'s migration list.
/// Nothing is built yet: the issues that add it come after the store and the Kafka consumer.
public enum Alerts {}
