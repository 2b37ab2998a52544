import Foundation

/// One anomaly from Cost Explorer's own detection (`GetAnomalies`), as `/v1/aws-anomalies`
/// shows it beside ingestd's: AWS's view of the same spend, usually a day later.
public struct AWSAnomaly: Sendable, Codable, Equatable {
    public struct RootCause: Sendable, Codable, Equatable {
        public var service: String?
        public var region: String?
        public var linkedAccount: String?
        public var usageType: String?
    }

    public struct Impact: Sendable, Codable, Equatable {
        public var maxImpact: Double?
        public var totalImpact: Double?
        public var totalActualSpend: Double?
        public var totalExpectedSpend: Double?
        public var totalImpactPercentage: Double?
    }

    public var id: String
    public var start: String?
    public var end: String?
    public var dimensionValue: String?
    public var monitorArn: String?
    public var maxScore: Double?
    public var currentScore: Double?
    public var impact: Impact?
    public var rootCauses: [RootCause]
    public var feedback: String?

    /// One `GetAnomalies` answer.
    public struct Page: Sendable {
        public var anomalies: [AWSAnomaly]
        public var nextPageToken: String?
    }

    public static func decode(_ body: [UInt8]) throws(CostAndUsagePage.Malformed) -> Page {
        struct Cause: Decodable { let Service: String?; let Region: String?; let LinkedAccount: String?; let UsageType: String? }
        struct Score: Decodable { let MaxScore: Double?; let CurrentScore: Double? }
        struct Money: Decodable {
            let MaxImpact: Double?; let TotalImpact: Double?; let TotalActualSpend: Double?
            let TotalExpectedSpend: Double?; let TotalImpactPercentage: Double?
        }
        struct Item: Decodable {
            let AnomalyId: String
            let AnomalyStartDate: String?
            let AnomalyEndDate: String?
            let DimensionValue: String?
            let MonitorArn: String?
            let AnomalyScore: Score?
            let Impact: Money?
            let RootCauses: [Cause]?
            let Feedback: String?
        }
        struct Body: Decodable { let Anomalies: [Item]?; let NextPageToken: String? }
        let decoded: Body
        do { decoded = try JSONDecoder().decode(Body.self, from: Data(body)) } catch {
            throw CostAndUsagePage.Malformed(operation: "GetAnomalies", message: "\(error) (body starts: \(String(decoding: body.prefix(120), as: UTF8.self)))")
        }
        guard let items = decoded.Anomalies else { throw CostAndUsagePage.Malformed(operation: "GetAnomalies", message: "no Anomalies") }
        let anomalies = items.map { i in
            AWSAnomaly(id: i.AnomalyId, start: i.AnomalyStartDate, end: i.AnomalyEndDate, dimensionValue: i.DimensionValue,
                       monitorArn: i.MonitorArn, maxScore: i.AnomalyScore?.MaxScore, currentScore: i.AnomalyScore?.CurrentScore,
                       impact: i.Impact.map { Impact(maxImpact: $0.MaxImpact, totalImpact: $0.TotalImpact, totalActualSpend: $0.TotalActualSpend,
                                                     totalExpectedSpend: $0.TotalExpectedSpend, totalImpactPercentage: $0.TotalImpactPercentage) },
                       rootCauses: (i.RootCauses ?? []).map { RootCause(service: $0.Service, region: $0.Region, linkedAccount: $0.LinkedAccount, usageType: $0.UsageType) },
                       feedback: i.Feedback)
        }
        return Page(anomalies: anomalies, nextPageToken: decoded.NextPageToken.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// The `GetAnomalies` request for anomalies that started in [start, end) (dates, UTC).
    static func requestBody(startMillis: Int64, endMillis: Int64, nextPageToken: String?) -> [UInt8] {
        struct Interval: Encodable { let StartDate: String; let EndDate: String }
        struct Body: Encodable { let DateInterval: Interval; let MaxResults: Int; let NextPageToken: String? }
        let body = Body(DateInterval: Interval(StartDate: String(UTCCalendar.iso8601(millis: startMillis).prefix(10)),
                                               EndDate: String(UTCCalendar.iso8601(millis: endMillis).prefix(10))),
                        MaxResults: 100, NextPageToken: nextPageToken)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(body)) ?? Data())
    }
}
