/// The schema history of DATA_DIR/ingestd.db: append-only, one `user_version` counter per file,
/// so every table that lives in this file (later: alerts, outbox, silences) gets its step here.
public enum StreamSchema {
    public static let migrations: [SQLiteDatabase.Migration] = [
        .init(version: 1, name: "stream persistence",
              sql: Quarantine.schemaSQL + SnapshotStore.schemaSQL + EventJournal.schemaSQL),
        .init(version: 2, name: "http idempotency keys", sql: IdempotencyKeys.schemaSQL),
    ]
}
