import Foundation
import Stream
import Testing

/// AWSCredentialProvider against real files in a temp directory.
@Suite("AWS credential provider")
struct AWSCredentialProviderTests {
    static let secretA = "aAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaA/+Aa"
    static let secretB = "bBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbBbB/+Bb"

    static func credentialsFile(_ profiles: [(String, String, String, String?)]) -> String {
        profiles.map { name, key, secret, token in
            "[\(name)]\naws_access_key_id = \(key)\naws_secret_access_key = \(secret)\n" + (token.map { "aws_session_token = \($0)\n" } ?? "")
        }.joined(separator: "\n")
    }

    @Test func environmentWinsOverFiles() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", Self.credentialsFile([("default", "AKIAFILE", Self.secretA, nil)]))
        let provider = AWSCredentialProvider(environment: [
            "AWS_SHARED_CREDENTIALS_FILE": path, "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": Self.secretB,
            "AWS_SESSION_TOKEN": "envtoken",
        ], profile: "default")
        #expect(try provider.resolve() == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: Self.secretB, sessionToken: "envtoken", origin: "environment"))
    }

    @Test func halfTheEnvironmentIsIncomplete() throws {
        let provider = AWSCredentialProvider(environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "HOME": "/nonexistent"])
        #expect(throws: AWSCredentialError.incomplete(profile: "environment", path: "environment", missing: "AWS_SECRET_ACCESS_KEY")) {
            try provider.resolve()
        }
    }

    @Test func profileFromAWSProfileAndFromTheInitParameter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", Self.credentialsFile([
            ("default", "AKIADEFAULT", Self.secretA, nil), ("ops", "AKIAOPS", Self.secretA, nil), ("billing", "AKIABILLING", Self.secretB, nil),
        ]))
        let base = ["AWS_SHARED_CREDENTIALS_FILE": path, "HOME": directory.path]
        #expect(try AWSCredentialProvider(environment: base).resolve().accessKeyID == "AKIADEFAULT")
        let fromVariable = try AWSCredentialProvider(environment: base.merging(["AWS_PROFILE": "ops"]) { $1 }).resolve()
        #expect(fromVariable == AWSCredentials(accessKeyID: "AKIAOPS", secretAccessKey: Self.secretA, origin: "profile ops in \(path)"))
        // The config's profile overrides AWS_PROFILE.
        let fromParameter = try AWSCredentialProvider(environment: base.merging(["AWS_PROFILE": "ops"]) { $1 }, profile: "billing").resolve()
        #expect(fromParameter.accessKeyID == "AKIABILLING")
        #expect(fromParameter.secretAccessKey == Self.secretB)
    }

    @Test func defaultFilesUnderHome() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try FileManager.default.createDirectory(atPath: directory.path + "/.aws", withIntermediateDirectories: true)
        let path = try directory.write(".aws/credentials", Self.credentialsFile([("default", "AKIAHOME", Self.secretA, nil)]))
        let credentials = try AWSCredentialProvider(environment: ["HOME": directory.path]).resolve()
        #expect(credentials.accessKeyID == "AKIAHOME")
        #expect(credentials.origin == "profile default in \(path)")
    }

    @Test func configFileProfileSections() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try directory.write("config", """
            # a comment
            [default]
            region = us-east-1
            aws_access_key_id = AKIACONFIGDEFAULT
            aws_secret_access_key = \(Self.secretA)

            [profile cost]
            region = us-east-1
            s3 =
              max_concurrent_requests = 20
            aws_access_key_id = AKIACONFIGCOST
            aws_secret_access_key = \(Self.secretB)
            aws_session_token = configtoken

            [cost]
            aws_access_key_id = AKIAWRONGSECTION
            aws_secret_access_key = \(Self.secretA)
            """)
        let environment = ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": directory.path + "/absent"]
        #expect(try AWSCredentialProvider(environment: environment, profile: "cost").resolve()
            == AWSCredentials(accessKeyID: "AKIACONFIGCOST", secretAccessKey: Self.secretB, sessionToken: "configtoken", origin: "profile cost in \(config)"))
        #expect(try AWSCredentialProvider(environment: environment).resolve().accessKeyID == "AKIACONFIGDEFAULT")
    }

    @Test func credentialsFileWinsOverConfigFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let credentials = try directory.write("credentials", Self.credentialsFile([("cost", "AKIACREDENTIALS", Self.secretA, "filetoken")]))
        let config = try directory.write("config", "[profile cost]\naws_access_key_id = AKIACONFIG\naws_secret_access_key = \(Self.secretB)\n")
        let resolved = try AWSCredentialProvider(environment: ["AWS_CONFIG_FILE": config, "AWS_SHARED_CREDENTIALS_FILE": credentials],
                                                 profile: "cost").resolve()
        #expect(resolved == AWSCredentials(accessKeyID: "AKIACREDENTIALS", secretAccessKey: Self.secretA, sessionToken: "filetoken",
                                           origin: "profile cost in \(credentials)"))
    }

    @Test func aRewrittenCredentialsFileIsPickedUpByTheNextResolve() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", Self.credentialsFile([("default", "AKIAOLD", Self.secretA, "oldtoken")]))
        let provider = AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path, "HOME": directory.path])
        #expect(try provider.resolve().accessKeyID == "AKIAOLD")
        #expect(try provider.resolve().accessKeyID == "AKIAOLD")  // unchanged file: from the cache
        // Rewritten in place (same inode) with a new key and a longer token.
        try directory.write("credentials", Self.credentialsFile([("default", "AKIANEW", Self.secretB, "newtoken-longer")]))
        #expect(try provider.resolve() == AWSCredentials(accessKeyID: "AKIANEW", secretAccessKey: Self.secretB, sessionToken: "newtoken-longer",
                                                         origin: "profile default in \(path)"))
        // Replaced by rename with content of the same size (a new inode): also picked up.
        try directory.replace("credentials", Self.credentialsFile([("default", "AKIAMID", Self.secretA, "mid-token-xyzzy")]))
        #expect(try provider.resolve().accessKeyID == "AKIAMID")
        #expect(try provider.resolve().sessionToken == "mid-token-xyzzy")
        // Removed: the cache does not keep serving the old key.
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: AWSCredentialError.self) { try provider.resolve() }
    }

    @Test func nothingAnywhereListsWhatWasSearched() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = try directory.write("config", "[profile other]\nregion = us-east-1\n[profile cost]\nrole_arn = arn:aws:iam::1:role/x\n")
        let provider = AWSCredentialProvider(environment: ["HOME": directory.path, "AWS_CONFIG_FILE": config, "AWS_PROFILE": "cost"])
        let error = #expect(throws: AWSCredentialError.self) { try provider.resolve() }
        let credentialsPath = directory.path + "/.aws/credentials"
        #expect(error == .notFound(searched: [
            "environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY unset)",
            "\(credentialsPath) (no such file)",
            "\(config) ([profile cost] has no aws_access_key_id; it uses role_arn, which ingestd does not support)",
        ]))
        let text = "\(error!)"
        #expect(text.contains(credentialsPath) && text.contains(config) && text.contains("set AWS_ACCESS_KEY_ID"))
        // Without HOME and without the variables there are no files to look at, and it says so.
        let bare = #expect(throws: AWSCredentialError.self) { try AWSCredentialProvider(environment: [:]).resolve() }
        #expect("\(bare!)".contains("AWS_SHARED_CREDENTIALS_FILE and HOME unset"))
    }

    @Test func aMalformedLineNamesPathAndLineButNotTheLine() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", "[default]\naws_access_key_id = AKIAX\n\(Self.secretA)\n")
        let provider = AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path])
        let error = #expect(throws: AWSCredentialError.self) { try provider.resolve() }
        #expect(error == .malformed(path: path, line: 3, message: "expected `name = value` or `[section]`"))
        #expect("\(error!)".hasPrefix("AWS profile file \(path):3: "))
        #expect(!"\(error!)".contains(Self.secretA))
        // Still malformed on the next call (cached), and fixed once the file is.
        #expect(throws: AWSCredentialError.malformed(path: path, line: 3, message: "expected `name = value` or `[section]`")) { try provider.resolve() }
        try directory.write("credentials", Self.credentialsFile([("default", "AKIAFIXED", Self.secretA, nil)]))
        #expect(try provider.resolve().accessKeyID == "AKIAFIXED")
    }

    @Test func otherMalformedShapes() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let cases: [(String, Int, String)] = [
            ("aws_access_key_id = AKIA\n", 1, "aws_access_key_id comes before any [section]"),
            ("[default\naws_access_key_id = AKIA\n", 1, "a section header must be `[name]` on one line"),
            ("[default]\n[default]\n", 2, "a section of the same name starts at line 1"),
            ("\n[default]\naws_access_key_id = A\naws_access_key_id = B\n", 4, "aws_access_key_id is set twice in one section (line 2)"),
        ]
        for (text, line, message) in cases {
            let path = try directory.write("credentials", text)
            #expect(throws: AWSCredentialError.malformed(path: path, line: line, message: message)) {
                try AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path]).resolve()
            }
        }
    }

    @Test func aProfileWithoutItsSecretIsIncomplete() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("credentials", "[cost]\naws_access_key_id = AKIAHALF\naws_session_token = \(Self.secretB)\n")
        let provider = AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path], profile: "cost")
        let error = #expect(throws: AWSCredentialError.self) { try provider.resolve() }
        #expect(error == .incomplete(profile: "cost", path: path, missing: "aws_secret_access_key"))
        #expect(!"\(error!)".contains(Self.secretB))
        // An empty value counts as missing.
        let empty = try directory.write("credentials", "[cost]\naws_access_key_id =\naws_secret_access_key = \(Self.secretA)\n")
        #expect(throws: AWSCredentialError.incomplete(profile: "cost", path: empty, missing: "aws_access_key_id")) { try provider.resolve() }
    }

    @Test func noErrorDescriptionContainsASecret() throws {
        // Every error this provider can produce from files full of secrets, printed.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let texts = [
            "[default]\naws_secret_access_key = \(Self.secretA)\n",
            "[default]\naws_access_key_id = AKIA\naws_secret_access_key = \(Self.secretA)\n\(Self.secretA)\n",
            "\(Self.secretA)\n",
            "[default]\n\(Self.secretA) = \(Self.secretA)\n[default]\n",
            "[default]\n\(Self.secretA) = x\n\(Self.secretA) = y\n",
            "\(Self.secretA) = x\n",
            "[\(Self.secretA)]\n[\(Self.secretA)]\n",
            "[\(Self.secretA)\n",
        ]
        var descriptions: [String] = []
        for text in texts {
            let path = try directory.write("credentials", text)
            do {
                _ = try AWSCredentialProvider(environment: ["AWS_SHARED_CREDENTIALS_FILE": path]).resolve()
                Issue.record("expected an error for \(text.count) bytes of input")
            } catch {
                descriptions.append(error.description)
            }
        }
        do {
            _ = try AWSCredentialProvider(environment: ["AWS_SECRET_ACCESS_KEY": Self.secretB]).resolve()
        } catch {
            descriptions.append(error.description)
        }
        #expect(descriptions.count == texts.count + 1)
        for description in descriptions {
            // Lowercased too: setting names are lowercased when parsed.
            let lower = description.lowercased()
            #expect(!lower.contains(Self.secretA.lowercased()) && !lower.contains(Self.secretB.lowercased()), "\(description)")
        }
        // And resolved credentials print without theirs.
        let printed = "\(AWSCredentials(accessKeyID: "AKIA", secretAccessKey: Self.secretA, sessionToken: Self.secretB, origin: "test"))"
        #expect(!printed.contains(Self.secretA) && !printed.contains(Self.secretB))
    }
}
