import Stream

/// The dispatcher's own tables in DATA_DIR/notifications.db (the outbox has its module there too).
public enum NotifySchema {
    public static let module = SQLiteDatabase.SchemaModule(name: "notify", migrations: [
        .init(version: 1, name: "silences and the notification log", sql: """
            CREATE TABLE silence (
                id          TEXT    PRIMARY KEY,
                matchers    TEXT    NOT NULL,
                starts_at   INTEGER NOT NULL,
                ends_at     INTEGER NOT NULL,
                created_by  TEXT    NOT NULL,
                comment     TEXT    NOT NULL,
                created_at  INTEGER NOT NULL,
                updated_at  INTEGER NOT NULL
            );
            CREATE TABLE notification_log (
                receiver    TEXT    NOT NULL,
                group_key   TEXT    NOT NULL,
                firing      TEXT    NOT NULL,
                resolved    TEXT    NOT NULL,
                sent_at     INTEGER NOT NULL,
                PRIMARY KEY (receiver, group_key)
            );
            """),
    ])
}
