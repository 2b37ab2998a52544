/// Label values of one event, in the store's label order (account, service, region, currency, then the
/// configured tag keys). The parser conforms without copying: its values point into the
/// message bytes, valid until its next parse.
public protocol LabelSource {
    var labelCount: Int { get }
    func labelValue(_ index: Int) -> UnsafeRawBufferPointer
    /// The event's resource id for the series' top contributors (empty: the event has none);
    /// nil when the source does not carry ids at all, so it leaves the contributors alone.
    var contributorId: UnsafeRawBufferPointer? { get }
}

extension LabelSource {
    public var contributorId: UnsafeRawBufferPointer? { nil }
}

/// Label values held in one owned buffer: for restores, the HTTP journal and tests, not the
/// hot path. A class so the buffer it hands out stays valid for as long as the caller holds it.
public final class StringLabels: LabelSource {
    public let values: [String]
    private let storage: UnsafeMutableRawBufferPointer
    private let offsets: [Int]

    public init(_ values: [String]) {
        self.values = values
        var offsets = [0]
        for v in values { offsets.append(offsets.last! + v.utf8.count) }
        storage = .allocate(byteCount: max(offsets.last!, 1), alignment: 1)
        for (i, v) in values.enumerated() {
            UnsafeMutableRawBufferPointer(rebasing: storage[offsets[i]..<offsets[i + 1]]).copyBytes(from: v.utf8)
        }
        self.offsets = offsets
    }

    deinit { storage.deallocate() }

    public var labelCount: Int { values.count }

    public func labelValue(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[offsets[index]..<offsets[index + 1]])
    }
}
