import Foundation
import Testing
import Stream

@Suite struct TimestampTests {
    private func iso(_ text: String) -> Int64? {
        Array(text.utf8).withUnsafeBytes { Timestamp.parseISO8601($0) }
    }

    private func epoch(_ text: String) -> Int64? {
        Array(text.utf8).withUnsafeBytes { Timestamp.parseEpoch($0) }
    }

    // 2026-06-01T00:00:00Z
    private let june1: Int64 = 1_780_272_000_000

    @Test func utcForms() {
        #expect(iso("1970-01-01T00:00:00Z") == 0)
        #expect(iso("2026-06-01T00:00:00Z") == june1)
        #expect(iso("2026-06-01T00:00:02Z") == june1 + 2000)
        #expect(iso("2026-06-01t00:00:02z") == june1 + 2000)
        #expect(iso("2026-06-01 00:00:02Z") == june1 + 2000)
        #expect(iso("2026-06-01T00:00:02") == june1 + 2000, "no offset means UTC")
        #expect(iso("2026-06-01") == june1, "a date alone is midnight UTC")
        #expect(iso("2026-06-01T23:59:59Z") == june1 + 86_399_000)
        #expect(iso("1969-12-31T23:59:59Z") == -1000)
        #expect(iso("0000-01-01T00:00:00Z") == -62_167_219_200_000)
        #expect(iso("9999-12-31T23:59:59Z") == 253_402_300_799_000)
    }

    @Test func offsets() {
        #expect(iso("2026-06-01T02:00:00+02:00") == june1)
        #expect(iso("2026-06-01T02:00:00+0200") == june1)
        #expect(iso("2026-05-31T18:30:00-05:30") == june1)
        #expect(iso("2026-05-31T18:30:00-0530") == june1)
        #expect(iso("2026-06-01T00:00:00+00:00") == june1)
        #expect(iso("2026-06-01T00:00:00-00:00") == june1)
        #expect(iso("2026-06-01T23:59:00+23:59") == june1)
        #expect(iso("2026-06-01T00:00:00.250+01:00") == june1 - 3_600_000 + 250)
    }

    @Test func fractionsAreTruncatedToMilliseconds() {
        #expect(iso("2026-06-01T00:00:00.5Z") == june1 + 500)
        #expect(iso("2026-06-01T00:00:00.12Z") == june1 + 120)
        #expect(iso("2026-06-01T00:00:00.123Z") == june1 + 123)
        #expect(iso("2026-06-01T00:00:00.1239Z") == june1 + 123)
        #expect(iso("2026-06-01T00:00:00.999999999Z") == june1 + 999)
        #expect(iso("2026-06-01T00:00:00.000000001Z") == june1)
        #expect(iso("2026-06-01T00:00:00,25Z") == june1 + 250)
        #expect(iso("2026-06-01T00:00:00." + String(repeating: "9", count: 40) + "Z") == june1 + 999)
        #expect(iso("1969-12-31T23:59:59.999Z") == -1)
    }

    @Test func leapYearsAndMonthLengths() {
        #expect(iso("2024-02-29T00:00:00Z") != nil)
        #expect(iso("2000-02-29T00:00:00Z") != nil)
        #expect(iso("2023-02-29T00:00:00Z") == nil)
        #expect(iso("1900-02-29T00:00:00Z") == nil)
        #expect(iso("2100-02-29") == nil)
        #expect(iso("2024-03-01T00:00:00Z")! - iso("2024-02-28T00:00:00Z")! == 2 * 86_400_000)
        #expect(iso("2023-03-01T00:00:00Z")! - iso("2023-02-28T00:00:00Z")! == 86_400_000)
        for (month, days) in [(1, 31), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31)] {
            let m = month < 10 ? "0\(month)" : "\(month)"
            #expect(iso("2026-\(m)-\(days)") != nil)
            #expect(iso("2026-\(m)-\(days + 1)") == nil)
        }
    }

    @Test func leapSecondCountsAsTheNextMinute() {
        #expect(iso("2016-12-31T23:59:60Z") == iso("2017-01-01T00:00:00Z"))
    }

    @Test(arguments: [
        "", "2026", "2026-06", "2026-6-01", "2026-06-1", "26-06-01", "2026/06/01",
        "2026-00-01", "2026-13-01", "2026-06-00", "2026-06-31", "2026-04-31T00:00:00Z",
        "2026-06-01T", "2026-06-01T00:00Z", "2026-06-01T00:00", "2026-06-01T0:00:00Z",
        "2026-06-01T24:00:00Z", "2026-06-01T23:60:00Z", "2026-06-01T23:59:61Z",
        "2026-06-01T00:00:00.Z", "2026-06-01T00:00:00.", "2026-06-01T00:00:00ZZ",
        "2026-06-01T00:00:00+02", "2026-06-01T00:00:00+2:00", "2026-06-01T00:00:00+02:0",
        "2026-06-01T00:00:00+24:00", "2026-06-01T00:00:00+02:60", "2026-06-01T00:00:00+02:00:00",
        "2026-06-01T00:00:00 Z", "2026-06-01X00:00:00Z", " 2026-06-01", "2026-06-01 ",
        "2026-06-01T00:00:00Zjunk", "+2026-06-01", "２０２６-06-01",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(iso(text) == nil, "\(text.debugDescription)")
    }

    @Test func epochSecondsVersusMillis() {
        #expect(epoch("0") == 0)
        #expect(epoch("1780272000") == june1)
        #expect(epoch("1780272000123") == june1 + 123)
        #expect(epoch("1780272000.5") == june1 + 500)
        #expect(epoch("1780272000.1239") == june1 + 123)
        #expect(epoch("1.780272e9") == june1)
        #expect(epoch("1780272000123.9") == june1 + 123, "millis with a fraction: floor")
        #expect(epoch("99999999999") == 99_999_999_999_000, "below 1e11: seconds")
        #expect(epoch("99999999999.9999") == 99_999_999_999_999)
        #expect(epoch("100000000000") == 100_000_000_000, "from 1e11: millis")
        #expect(epoch("1e11") == 100_000_000_000)
        #expect(epoch("0.0005") == 0)
        #expect(epoch("-1") == -1000)
        #expect(epoch("-1.5") == -1500)
        #expect(epoch("-0.0005") == -1, "floor, like a truncated ISO fraction before 1970")
        #expect(epoch("-0") == 0)
        #expect(epoch("+5") == 5000)
        #expect(epoch("000000001") == 1000)
        #expect(epoch("1e-400") == 0)
        #expect(epoch("999999999999999999") == 999_999_999_999_999_999)
        #expect(epoch("1e18") == nil, "beyond the supported range")
        #expect(epoch("1e400") == nil)
        #expect(epoch("17802720000000000000000") == nil)
    }

    @Test(arguments: ["", "-", "+", ".5", "5.", "1e", "1e+", "abc", "1,5", "0x10", " 1", "1 ", "NaN", "inf", "1.2.3", "--1"])
    func epochRejectsMalformed(_ text: String) {
        #expect(epoch(text) == nil, "\(text.debugDescription)")
    }

    /// Thousands of random instants, formatted by Foundation in random offsets, with and without
    /// fractional seconds: the parser reads the same instant Foundation's own parser reads.
    @Test func agreesWithISO8601DateFormatter() {
        var state: UInt64 = 0xDA7E_F0E5
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let offsets = [0, 3600, -3600, 19800, -16200, 45900, -43200, 50400]
        for _ in 0..<3000 {
            // Years 1900 to 2200.
            let millis = -2_208_988_800_000 + Int64(next() % 9_467_280_000_000)
            let formatter = next() % 2 == 0 ? plain : fractional
            formatter.timeZone = TimeZone(secondsFromGMT: offsets[Int(next() % UInt64(offsets.count))])!
            let text = formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
            guard let theirs = formatter.date(from: text) else {
                Issue.record("Foundation cannot read its own \(text)")
                continue
            }
            let expected = Int64((theirs.timeIntervalSince1970 * 1000).rounded())
            #expect(iso(text) == expected, "\(text)")
        }
    }
}
