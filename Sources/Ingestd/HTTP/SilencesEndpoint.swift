import Alerts
import Foundation
import Hummingbird
import Stream

/// Silences (README: Silences):
/// - POST /v1/silences `{"matchers": "{account=\"123\"}", "startsAt": …, "endsAt": …, "createdBy": …,
///   "comment": …}` (times RFC 3339 or epoch ms; `startsAt` defaults to now; `duration` such as
///   "2h" may stand in for `endsAt`) → 201 with the silence.
/// - GET /v1/silences[?state=pending|active|expired] → every silence, newest first.
/// - GET /v1/silences/{id}; DELETE /v1/silences/{id} expires it now.
struct SilencesEndpoint {
    let silences: SilenceStore
    let clock: @Sendable () -> Int64

    static let maxBodyBytes = 64 << 10

    func register(on router: Router<IngestdRequestContext>) {
        router.post("/v1/silences") { request, context in
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: Self.maxBodyBytes) } catch {
                return JSONResponse.error(.contentTooLarge, "a silence is at most \(Self.maxBodyBytes) bytes of JSON")
            }
            let now = clock()
            let draft: SilenceStore.Draft
            do throws(BadRequest) { draft = try Self.draft(Data(buffer: body), now: now) } catch {
                return JSONResponse.error(.badRequest, error.message)
            }
            if let accounts = context.scope.accounts, !Self.pinned(draft.matchers, to: context.scope) {
                return JSONResponse.error(.forbidden, "this token is limited to the accounts \(accounts.sorted().joined(separator: ", ")): a silence it creates must match account=\"…\" exactly, for one of them")
            }
            do throws(SilenceStore.Failure) {
                return JSONResponse.make(Row(try silences.create(draft, now: now), now: now), status: .created)
            } catch {
                return Self.failure(error)
            }
        }
        router.get("/v1/silences") { request, context in
            let scope = context.scope
            let now = clock()
            var state: Silence.State?
            if let text = request.uri.queryParameters["state"] {
                guard let s = Silence.State(rawValue: String(text)) else {
                    return JSONResponse.error(.badRequest, "state must be one of \(Silence.State.allCases.map(\.rawValue).joined(separator: ", ")), got \(text)")
                }
                state = s
            }
            return JSONResponse.make(List(silences: silences.list(state: state, now: now).filter { Self.pinned($0.matcherText, to: scope) }.map { Row($0, now: now) }))
        }
        router.get("/v1/silences/:id") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let silence = silences.silence(id: id), Self.pinned(silence.matcherText, to: context.scope) else { return Self.failure(.notFound(id)) }
            return JSONResponse.make(Row(silence, now: clock()))
        }
        router.delete("/v1/silences/:id") { _, context in
            let now = clock()
            let id = context.parameters.get("id") ?? ""
            // Another account's silence is as absent for a scoped token as one that never existed.
            if context.scope.isRestricted, silences.silence(id: id).map({ Self.pinned($0.matcherText, to: context.scope) }) != true {
                return Self.failure(.notFound(id))
            }
            do throws(SilenceStore.Failure) {
                return JSONResponse.make(Row(try silences.expire(id: context.parameters.get("id") ?? "", now: now), now: now))
            } catch {
                return Self.failure(error)
            }
        }
    }

    struct BadRequest: Error { let message: String }

    /// Whether a silence's selector pins `account="X"` (exactly) to an account of the scope:
    /// only such silences are seen, created or expired by a scoped token.
    static func pinned(_ matcherText: String, to scope: AccessScope) -> Bool {
        guard scope.isRestricted else { return true }
        guard let matchers = try? SeriesSelector.parse(matcherText) else { return false }
        return matchers.contains { $0.name == "account" && $0.op == .equal && scope.allows(account: $0.value) }
    }

    private static func failure(_ error: SilenceStore.Failure) -> Response {
        switch error {
        case .invalid(let message): JSONResponse.error(.badRequest, message)
        case .notFound: JSONResponse.error(.notFound, "\(error)")
        case .storage: JSONResponse.error(.internalServerError, "\(error)")
        }
    }

    /// A time as RFC 3339 text or epoch milliseconds (a JSON number or string).
    private enum Instant: Decodable {
        case text(String)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s); return }
            if let n = try? c.decode(Int64.self) { self = .text(String(n)); return }
            throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath, debugDescription: "RFC 3339 text or whole epoch milliseconds"))
        }
        var string: String { if case .text(let s) = self { s } else { "" } }
    }

    private struct Body: Decodable {
        var matchers: String?
        var startsAt: Instant?
        var endsAt: Instant?
        var duration: String?
        var createdBy: String?
        var comment: String?
    }

    static func draft(_ data: Data, now: Int64) throws(BadRequest) -> SilenceStore.Draft {
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            throw BadRequest(message: "the body must be a JSON object with matchers, endsAt (or duration), createdBy and comment")
        }
        let known: Set = ["matchers", "startsAt", "endsAt", "duration", "createdBy", "comment"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw BadRequest(message: "unknown field \(unknown); fields: \(known.sorted().joined(separator: ", "))")
        }
        let body: Body
        do { body = try JSONDecoder().decode(Body.self, from: data) } catch let DecodingError.typeMismatch(_, context) {
            throw BadRequest(message: "\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type: matchers, duration, createdBy and comment are strings; startsAt and endsAt RFC 3339 or epoch ms")
        } catch {
            throw BadRequest(message: "the body is not valid JSON for a silence: \(error)")
        }
        func instant(_ value: Instant?, _ name: String) throws(BadRequest) -> Int64? {
            do { return try SeriesEndpoint.instant(value?.string, name: name) } catch let e as SeriesEndpoint.BadRequest {
                throw BadRequest(message: e.message)
            } catch { throw BadRequest(message: "\(name): \(error)") }
        }
        guard let matchers = body.matchers else {
            throw BadRequest(message: "matchers is required: a selector such as {alertname=\"DailySpendHigh\",account=\"123\"}")
        }
        let startsAt = try instant(body.startsAt, "startsAt")
        var endsAt = try instant(body.endsAt, "endsAt")
        if let d = body.duration {
            guard endsAt == nil else { throw BadRequest(message: "give endsAt or duration, not both") }
            let seconds: Int64
            do { seconds = try DurationText.seconds(d) } catch { throw BadRequest(message: "duration: \(error)") }
            guard seconds > 0, seconds <= SilenceStore.maxDurationMillis / 1000 else {
                throw BadRequest(message: "duration must be from 1s to 366d, got \(d)")
            }
            endsAt = (startsAt ?? now) + seconds * 1000
        }
        guard let endsAt else { throw BadRequest(message: "endsAt (or duration) is required: a silence always ends") }
        return SilenceStore.Draft(matchers: matchers, startsAt: startsAt, endsAt: endsAt,
                                  createdBy: body.createdBy ?? "", comment: body.comment ?? "")
    }

    struct List: Encodable { let silences: [Row] }

    struct Row: Encodable {
        let id: String
        let matchers: String
        let state: String
        let startsAt: String
        let endsAt: String
        let createdBy: String
        let comment: String
        let createdAt: String
        let updatedAt: String

        init(_ s: Silence, now: Int64) {
            id = s.id
            matchers = s.matcherText
            state = s.state(at: now).rawValue
            startsAt = UTCCalendar.iso8601(millis: s.startsAt)
            endsAt = UTCCalendar.iso8601(millis: s.endsAt)
            createdBy = s.createdBy
            comment = s.comment
            createdAt = UTCCalendar.iso8601(millis: s.createdAt)
            updatedAt = UTCCalendar.iso8601(millis: s.updatedAt)
        }
    }
}
