/// STUB (replaced by the templates work): an annotation template.
public struct AnnotationTemplate: Sendable {
    public let source: String
    public init(_ source: String) throws { self.source = source }
    public func render(_ context: AlertTemplateContext) throws -> String { source }
}
