import Alerts
import Testing

@Suite struct AnnotationTemplateTests {
    let context = AlertTemplateContext(
        alertname: "EC2HourlySpendHigh", severity: "critical",
        labels: ["account": "205380810795", "currency": "USD", "team": "<ops & finance>"],
        value: 1234.567, measure: 52.34, threshold: 250, window: "1h")

    @Test func moneyHasTwoDecimalsSeparatorsAndTheCurrency() {
        #expect(TemplateFormat.money(1234.56, currency: "USD") == "$1,234.56")
        #expect(TemplateFormat.money(1_234_567.891, currency: "USD") == "$1,234,567.89")
        #expect(TemplateFormat.money(999.999, currency: "USD") == "$1,000.00")
        #expect(TemplateFormat.money(-1234.5, currency: "USD") == "-$1,234.50")
        #expect(TemplateFormat.money(1234.56, currency: "EUR") == "1,234.56 EUR")
        #expect(TemplateFormat.money(-12, currency: "EUR") == "-12.00 EUR")
        #expect(TemplateFormat.money(123, currency: "USD") == "$123.00")
        // A value that rounds to zero has no sign: never "-$0.00".
        #expect(TemplateFormat.money(-0.004, currency: "USD") == "$0.00")
    }

    @Test func percentHasOneDecimal() {
        #expect(TemplateFormat.percent(52.34) == "52.3%")
        #expect(TemplateFormat.percent(-7.06) == "-7.1%")
        #expect(TemplateFormat.percent(1234.5) == "1,234.5%")
        #expect(TemplateFormat.percent(100) == "100.0%")
        #expect(TemplateFormat.plain(1234.5) == "1234.5")
        #expect(TemplateFormat.plain(250) == "250")
        #expect(TemplateFormat.plain(0.126) == "0.13")
    }

    @Test func rendersVariablesLabelsAndHelpers() throws {
        let t = try AnnotationTemplate("{{alertname}} ({{severity}}): {{labels.account}} spent {{money(value)}} in {{window}}, "
            + "{{percent(measure)}} vs {{threshold}}; raw {{value}} {{currency}} {{uppercased(severity)}}")
        #expect(try t.render(context) == "EC2HourlySpendHigh (critical): 205380810795 spent $1,234.57 in 1h, 52.3% vs 250; raw 1234.57 USD CRITICAL")
        var eur = context
        eur.labels["currency"] = "EUR"
        #expect(try AnnotationTemplate("{{money(value)}}").render(eur) == "1,234.57 EUR")
    }

    @Test func neverEscapesHTML() throws {
        // Annotations are plain text: a label with < & > must come out as written, with {{ }} too.
        #expect(try AnnotationTemplate("{{labels.team}}|{{{labels.team}}}|{{&labels.team}}").render(context)
            == "<ops & finance>|<ops & finance>|<ops & finance>")
    }

    @Test func noDataSectionsRenderTheirBranch() throws {
        let t = try AnnotationTemplate("{{#no_data}}silent{{/no_data}}{{^no_data}}{{money(value)}}{{/no_data}}")
        #expect(try t.render(context) == "$1,234.57")
        var silent = context
        silent.noData = true
        #expect(try t.render(silent) == "silent")
    }

    @Test func syntaxErrorsNameTheirPosition() {
        // The parser stops where the tag cannot continue; columns count from the template's start
        // (the hidden plain-text pragma in front of it does not shift them).
        #expect(throws: AnnotationTemplate.SyntaxError.self) { try AnnotationTemplate("Spend {{money(value}}") }
        do {
            _ = try AnnotationTemplate("Spend {{money(value}}")
        } catch {
            #expect(error.line == 1)
            #expect(error.column == 22)
            #expect(error.message.contains("unfinished tag"))
        }
        do {
            _ = try AnnotationTemplate("first line\n{{#no_data}}open section")
            Issue.record("an unclosed section must be refused")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("never closed"))
        }
        do {
            _ = try AnnotationTemplate("a {{> partial}}")
            Issue.record("a partial must be refused")
        } catch {
            #expect(error.line == 1 && error.column == 3)
        }
    }

    @Test func unknownNamesAreProblemsNotBlanks() throws {
        let t = try AnnotationTemplate("{{valeu}} {{labels.acount}} {{mony(value)}} {{money(alertname)}} {{money(labels)}}")
        let problems = t.problems(rendering: context)
        #expect(problems.count == 5, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("unknown variable \"valeu\" (did you mean \"value\"?)") })
        #expect(problems.contains { $0.hasPrefix("labels.acount is not a label of this rule's alerts (did you mean \"account\"?); its labels: account, currency, team") })
        #expect(problems.contains { $0.hasPrefix("unknown helper \"mony\" in mony(value) (did you mean \"money\"?)") })
        #expect(problems.contains { $0.hasPrefix("unknown helper \"money\" in money(alertname); helpers for texts: uppercased, lowercased") })
        #expect(problems.contains { $0 == "money(labels): labels takes no helpers" })
        #expect(throws: AnnotationTemplate.RenderError.self) { try t.render(context) }
    }

    @Test func kindSpecificVariablesAreProblemsOnlyWhereTheKindLacksThem() throws {
        let t = try AnnotationTemplate("{{previous}}{{budget}}")
        #expect(t.problems(rendering: context) == ["\"previous\" is only set for change rules", "\"budget\" is only set for budget rules"])
        // At render time an unset variable is empty, not an error.
        #expect(try t.render(context) == "")
        var change = context
        change.previous = 810
        change.budget = 5000
        #expect(t.problems(rendering: change).isEmpty)
    }

    @Test func namesInsideALabelsSectionFallBackToTheTop() throws {
        let t = try AnnotationTemplate("{{#labels}}{{account}} {{alertname}}{{/labels}} {{#value}}{{severity}}{{/value}}")
        #expect(t.problems(rendering: context).isEmpty)
        #expect(try t.render(context) == "205380810795 EC2HourlySpendHigh critical")
    }

    @Test func fieldsOfValuesAndTheWholeContextAreProblems() throws {
        #expect(try AnnotationTemplate("{{value.cents}}{{window.x}}").problems(rendering: context)
            == ["value.cents: value has no fields", "window.x: window has no fields"])
        #expect(try AnnotationTemplate("{{.}}").problems(rendering: context).first?.hasPrefix("unknown variable \".\"") == true)
        do {
            _ = try AnnotationTemplate("cost {{money()}}")
            Issue.record("a helper without a variable must be refused")
        } catch {
            #expect(error.line == 1 && error.column == 6 && error.message.contains("needs a variable"))
        }
    }
}
