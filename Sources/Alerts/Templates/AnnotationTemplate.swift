import Foundation
import Mustache

/// An annotation template (README: Templates): Mustache through swift-mustache, plain text (no
/// HTML escaping), with the variables of `AlertTemplateContext` and the helpers `money(x)` and
/// `percent(x)` for numbers and `uppercased(s)` / `lowercased(s)` for text.
///
/// Unknown names are errors, not blanks: `problems(rendering:)` renders against a context and
/// reports every name it could not resolve (see `TemplateLookups`); the rule loader calls it
/// with `AlertTemplateContext.synthetic(for:)` so a bad template fails at load.
public struct AnnotationTemplate: Sendable {
    public let source: String
    private let template: MustacheTemplate

    /// Spelled out before the source: annotations are plain text, so `{{x}}` must not turn
    /// `<` or `&` into HTML entities. It sits on the source's first line, so parser columns on
    /// that line are shifted back by its length.
    private static let textPragma = "{{% CONTENT_TYPE: TEXT}}"

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        /// 1-based, within the template text.
        public let line: Int
        public let column: Int
        public let message: String
        public var description: String { "template syntax error at line \(line), column \(column): \(message)" }
    }

    /// The template referred to something no alert of it has.
    public struct RenderError: Error, Sendable, CustomStringConvertible {
        public let problems: [String]
        public var description: String { problems.joined(separator: "; ") }
    }

    public init(_ source: String) throws(SyntaxError) {
        self.source = source
        // Partials, blocks, pragmas and new delimiters have nothing to refer to here (no partial
        // library) and would hide names from the checks: refuse them rather than render blanks.
        if let range = source.range(of: #"\{\{\s*[>$<=%]"#, options: .regularExpression) {
            let (line, column) = Self.position(of: range.lowerBound, in: source)
            throw SyntaxError(line: line, column: column, message: "partials, blocks, pragmas and delimiter changes are not supported in annotations")
        }
        // `{{money()}}` applies the helper to Mustache's list-position context, which an
        // annotation never has: it would always print nothing.
        if let range = source.range(of: #"\{\{\{?\s*[#^/&]?\s*[A-Za-z_]+\(\s*\)"#, options: .regularExpression) {
            let (line, column) = Self.position(of: range.lowerBound, in: source)
            throw SyntaxError(line: line, column: column, message: "a helper needs a variable, e.g. {{money(value)}}")
        }
        do {
            template = try MustacheTemplate(string: Self.textPragma + source)
        } catch let error as MustacheTemplate.ParserError {
            let line = error.context.lineNumber
            let column = line == 1 ? max(1, error.context.columnNumber - Self.textPragma.count) : error.context.columnNumber
            throw SyntaxError(line: line, column: column, message: Self.explain(error.error))
        } catch {
            throw SyntaxError(line: 1, column: 1, message: "\(error)")
        }
    }

    /// Renders; throws `RenderError` when the template names a variable, label or helper the
    /// context lacks (a variable this kind of alert leaves unset renders empty).
    public func render(_ context: AlertTemplateContext) throws(RenderError) -> String {
        let (text, lookups) = renderRecording(context)
        let problems = Self.problems(lookups, includingUnset: false)
        if !problems.isEmpty { throw RenderError(problems: problems) }
        return text
    }

    /// Everything wrong with rendering this template for `context`: unknown variables, labels
    /// and helpers, and variables the context leaves unset (e.g. `previous` in a threshold rule).
    public func problems(rendering context: AlertTemplateContext) -> [String] {
        Self.problems(renderRecording(context).1, includingUnset: true)
    }

    /// Names a template can use (README: Templates).
    public static let variables = ["alertname", "severity", "labels.<name>", "value", "measure", "threshold", "previous",
                                   "change", "budget", "basis", "window", "currency", "no_data"]

    private func renderRecording(_ context: AlertTemplateContext) -> (String, TemplateLookups) {
        let lookups = TemplateLookups()
        lookups.knownLabels = context.labels.keys.sorted()
        let text = template.render(TemplateRootScope(context: context, lookups: lookups))
        return (text, lookups)
    }

    private static func problems(_ lookups: TemplateLookups, includingUnset: Bool) -> [String] {
        var out: [String] = []
        let roots = TemplateRootScope.variables
        for name in unique(lookups.unknownVariables) {
            out.append("unknown variable \"\(name)\"\(hint(name, roots)); variables: \(variables.joined(separator: ", "))")
        }
        // Inside `{{#labels}}…{{/labels}}` a top-level name is looked up in the labels first:
        // such misses are not label errors.
        for name in unique(lookups.unknownLabels) where !roots.contains(name) && !lookups.unknownVariables.contains(name) {
            out.append("labels.\(name) is not a label of this rule's alerts\(hint(name, lookups.knownLabels)); its labels: \(lookups.knownLabels.joined(separator: ", ")) (add a label to by: to have it)")
        }
        // Inside a section on a value (`{{#value}}…{{/value}}`) top-level names are tried on the
        // value first, as with labels.
        for (owner, field) in lookups.unknownFields where !roots.contains(field) && !lookups.unknownVariables.contains(field) {
            let message = "\(owner).\(field): \(owner) has no fields"
            if !out.contains(message) { out.append(message) }
        }
        for (helper, variable, kind) in lookups.unknownHelpers {
            let known = kind.helpers
            let message = known.isEmpty
                ? "\(helper)(\(variable)): \(variable) takes no helpers"
                : "unknown helper \"\(helper)\" in \(helper)(\(variable))\(hint(helper, known)); helpers for \(kind.rawValue)s: \(known.joined(separator: ", "))"
            if !out.contains(message) { out.append(message) }
        }
        if includingUnset {
            for name in unique(lookups.unsetVariables) {
                let kind = name == "previous" || name == "change" ? "change" : "budget"
                out.append("\"\(name)\" is only set for \(kind) rules")
            }
        }
        return out
    }

    private static func unique(_ names: [String]) -> [String] {
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    private static func hint(_ name: String, _ candidates: [String]) -> String {
        guard let best = Suggestion.closest(to: name, in: candidates) else { return "" }
        return " (did you mean \"\(best)\"?)"
    }

    private static func position(of index: String.Index, in text: String) -> (Int, Int) {
        let before = text[..<index]
        let line = before.filter { $0 == "\n" }.count + 1
        let column = before.count - (before.lastIndex(of: "\n").map { before.distance(from: before.startIndex, to: $0) + 1 } ?? 0) + 1
        return (line, column)
    }

    private static func explain(_ error: Error) -> String {
        guard let error = error as? MustacheTemplate.Error else { return "unexpected end of the template (an unclosed {{ tag?)" }
        switch error {
        case .sectionCloseNameIncorrect: return "a section is closed with another name than it was opened with ({{#x}}…{{/x}})"
        case .unfinishedName: return "unfinished tag: expected a name, or helper(name), then }}"
        case .expectedSectionEnd: return "a section is never closed: add {{/name}}"
        default: return "\(error)"
        }
    }
}
