/// Who made a request: a configured token's name, role and accounts (README: Auth).
struct Principal: Sendable, Equatable {
    /// Ordered: a role may do what the roles below it may.
    enum Role: String, Sendable, Comparable, CaseIterable {
        case read, write, admin

        static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
        private var rank: Int { Role.allCases.firstIndex(of: self)! }
    }

    var name: String
    var role: Role
    /// nil: every account.
    var accounts: Set<String>?

    var scope: AccessScope { AccessScope(accounts: accounts) }
}

/// The accounts a request may see. A scoped request sees a series, alert, notification or event
/// only when its `account` label is one of its accounts: something without an account label
/// (an organisation-wide total) is not shown to it.
struct AccessScope: Sendable, Equatable {
    var accounts: Set<String>?

    static let unrestricted = AccessScope(accounts: nil)

    var isRestricted: Bool { accounts != nil }

    func allows(account: String?) -> Bool {
        guard let accounts else { return true }
        guard let account else { return false }
        return accounts.contains(account)
    }

    func allows(labels: [String: String]) -> Bool { allows(account: labels["account"]) }
}
