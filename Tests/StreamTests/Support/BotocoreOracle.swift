import Foundation

/// botocore's SigV4 (installed on these machines), run as python3 in a subprocess: an
/// independent implementation that the bytes libcurl sent are compared with. The time is pinned
/// by patching botocore.auth.get_current_datetime, as aws-sigv4.md describes.
enum BotocoreOracle {
    struct Failure: Error, CustomStringConvertible { let description: String }

    static let script = #"""
import base64, datetime, json, sys
from unittest import mock
import botocore.auth, botocore.awsrequest, botocore.credentials
q = json.load(sys.stdin)
moment = datetime.datetime.strptime(q["amz_date"], "%Y%m%dT%H%M%SZ")
with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment):
    request = botocore.awsrequest.AWSRequest(method=q["method"], url=q["url"], headers=q["headers"],
                                             data=base64.b64decode(q["body"]))
    credentials = botocore.credentials.Credentials(q["key"], q["secret"], q.get("token"))
    botocore.auth.SigV4Auth(credentials, q["service"], q["region"]).add_auth(request)
sys.stdout.write(request.headers["Authorization"])
"""#

    /// The Authorization header botocore computes. `headers` are those the caller sets (not
    /// Host, X-Amz-Date or X-Amz-Security-Token: botocore adds them, as libcurl does).
    static func authorization(method: String, url: String, headers: [String: String], body: [UInt8],
                              accessKeyID: String, secretAccessKey: String, sessionToken: String?,
                              region: String, service: String, amzDate: String) throws -> String {
        var query: [String: Any] = [
            "method": method, "url": url, "headers": headers, "body": Data(body).base64EncodedString(),
            "key": accessKeyID, "secret": secretAccessKey, "region": region, "service": service, "amz_date": amzDate,
        ]
        if let sessionToken { query["token"] = sessionToken }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(try JSONSerialization.data(withJSONObject: query))
        try input.fileHandleForWriting.close()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "botocore oracle failed: \(String(decoding: problems, as: UTF8.self))")
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
