import HTTPTypes
import Hummingbird

/// GET / and its assets under /ui/: the live page. The files are Swift string literals
/// (PageHTML, PageScript, PageStyle) compiled into the binary rather than SwiftPM resources: on
/// Linux those live in a `ingestd_Ingestd.resources` directory that must be installed next to
/// the executable, and a binary copied alone into /usr/local/bin would serve a broken page.
/// The page holds no data: everything it shows comes from the API with the visitor's token.
struct PageEndpoint {
    func register(on router: Router<IngestdRequestContext>) {
        for asset in Self.assets {
            router.get(RouterPath(asset.path)) { _, _ in asset.response }
        }
    }

    struct Asset: Sendable {
        let path: String
        let contentType: String
        let body: ByteBuffer

        var response: Response {
            var headers = PageEndpoint.securityHeaders
            headers[.contentType] = contentType
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }

    static let assets: [Asset] = [
        Asset(path: "/", contentType: "text/html; charset=utf-8", body: ByteBuffer(string: PageHTML.text)),
        Asset(path: "/ui/app.js", contentType: "text/javascript; charset=utf-8", body: ByteBuffer(string: PageScript.text)),
        Asset(path: "/ui/app.css", contentType: "text/css; charset=utf-8", body: ByteBuffer(string: PageStyle.text)),
        Asset(path: "/ui/icon.svg", contentType: "image/svg+xml", body: ByteBuffer(string: PageStyle.icon)),
    ]

    /// Scripts, styles and images only from the daemon itself (no inline script, so data that
    /// slipped into the DOM still could not run); connections only back to it (REST and the
    /// stream); no framing, no plugins, no forms posting elsewhere.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        + "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: contentSecurityPolicy,
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        // Small files that change with the binary: revalidate rather than run an old script.
        .cacheControl: "no-cache",
    ]
}
