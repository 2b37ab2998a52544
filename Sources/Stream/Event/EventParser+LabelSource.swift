/// The parser hands its label values (and its resource id, for the contributors) to the store
/// without copying them.
extension EventParser: LabelSource {
    @inline(__always)
    public var contributorId: UnsafeRawBufferPointer? { resourceId }
}
