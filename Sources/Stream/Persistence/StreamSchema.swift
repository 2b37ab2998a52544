/// The Stream module's tables in DATA_DIR/ingestd.db: append-only history (never edit or
/// renumber a step that shipped). Other modules (Alerts) bring their own `SchemaModule`.
public enum StreamSchema {
    public static let migrations: [SQLiteDatabase.Migration] = [
        .init(version: 1, name: "stream persistence",
              sql: Quarantine.schemaSQL + SnapshotStore.schemaSQL + EventJournal.schemaSQL),
        .init(version: 2, name: "log identity and registered partition state",
              sql: SnapshotStore.logIdentitySQL + SnapshotStore.partitionStateSQL),
        .init(version: 3, name: "http idempotency keys", sql: IdempotencyKeys.schemaSQL),
        .init(version: 4, name: "cost explorer request budget", sql: RequestBudget.schemaSQL),
    ]

    public static let module = SQLiteDatabase.SchemaModule(
        name: SQLiteDatabase.SchemaModule.legacyUserVersionModule, migrations: migrations)
}
