/// The accounts a writer may post events for (an HTTP token's scope), checked on the parsed
/// account's bytes without allocating: a token lists a handful of accounts, so a linear scan
/// of byte comparisons beats hashing a new String per event.
public struct AccountAllowList: Sendable {
    private let accounts: [[UInt8]]

    public init(_ accounts: some Sequence<String>) {
        self.accounts = accounts.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    @inline(__always)
    public func contains(_ account: UnsafeRawBufferPointer) -> Bool {
        for allowed in accounts where allowed.count == account.count {
            if allowed.withUnsafeBytes({ $0.elementsEqual(account) }) { return true }
        }
        return false
    }

    /// The accounts, sorted and joined: identifies the scope (e.g. in an idempotency hash).
    public var key: String { accounts.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\u{1}") }

    /// The per-event error (bad path only).
    func refusal(_ account: UnsafeRawBufferPointer) -> String {
        let names = accounts.map { "\"\(String(decoding: $0, as: UTF8.self))\"" }.joined(separator: ", ")
        return "account \"\(String(decoding: account, as: UTF8.self))\" is outside this token's accounts (\(names)): post it with a token for that account"
    }
}
