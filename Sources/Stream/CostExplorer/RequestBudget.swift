/// The daily Cost Explorer request budget (AWS charges USD 0.01 per paginated request).
///
/// A request is counted durably *before* it is sent, in its UTC day's row: a crash between the
/// count and the request can waste one request of the budget but never lets the daemon spend
/// beyond it, and a restart does not start the day over.
public final class RequestBudget: Sendable {
    public static let schemaSQL = """
        CREATE TABLE cost_explorer_requests (
            day      INTEGER PRIMARY KEY,
            requests INTEGER NOT NULL
        );

        """

    public let perDay: Int
    private let database: SQLiteDatabase

    public init(database: SQLiteDatabase, perDay: Int) {
        self.database = database
        self.perDay = perDay
    }

    static func day(_ millis: Int64) -> Int64 { UTCCalendar.periodStart(containing: millis, stepMillis: 86_400_000) / 86_400_000 }

    /// Takes one request from the day's budget; false (nothing taken) when it is spent.
    public func take(nowMillis: Int64) throws -> Bool {
        let day = Self.day(nowMillis)
        let limit = Int64(perDay)
        return try database.transaction { connection in
            let used = try connection.withStatement("SELECT requests FROM cost_explorer_requests WHERE day = ?1") { q in
                try q.bind(day, at: 1)
                return try q.step() ? q.int64(at: 0) : 0
            }
            guard used < limit else { return false }
            try connection.withStatement(
                "INSERT INTO cost_explorer_requests (day, requests) VALUES (?1, 1) ON CONFLICT (day) DO UPDATE SET requests = requests + 1"
            ) { q in
                try q.bind(day, at: 1)
                _ = try q.step()
            }
            // Days before yesterday are history nobody reads.
            try connection.withStatement("DELETE FROM cost_explorer_requests WHERE day < ?1") { q in
                try q.bind(day - 1, at: 1)
                _ = try q.step()
            }
            return true
        }
    }

    /// Requests counted on the UTC day of `nowMillis`.
    public func used(nowMillis: Int64) throws -> Int {
        try database.withConnection { connection in
            try connection.withStatement("SELECT requests FROM cost_explorer_requests WHERE day = ?1") { q in
                try q.bind(Self.day(nowMillis), at: 1)
                return try q.step() ? Int(q.int64(at: 0)) : 0
            }
        }
    }
}
