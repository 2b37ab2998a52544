/// The live page's stylesheet and icon. Series colours are classes (c0…c7), not inline
/// styles: the Content-Security-Policy allows no inline style.
enum PageStyle {
    static let text = #"""
:root { --fg: #1d232b; --muted: #6b7380; --line: #d9dde3; --bg: #fbfbfc; --firing: #b4232c; --pending: #b26b00; --ok: #1f7a3a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; padding: .6em 1em; border-bottom: 1px solid var(--line); background: #fff; }
h1 { font-size: 1.2em; margin: 0; }
h2 { font-size: 1.05em; margin: .2em 0 .6em; }
form { display: flex; gap: .4em; align-items: center; }
input { width: 18em; font: inherit; padding: .2em .4em; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em; padding: 1em; }
#charts { grid-row: span 2; }
section { background: #fff; border: 1px solid var(--line); border-radius: 4px; padding: .8em 1em; }
.section-head { display: flex; gap: 1em; align-items: baseline; }
.muted { color: var(--muted); font-size: .9em; }
.error { margin: .6em 1em 0; padding: .4em .8em; background: #fdecea; border: 1px solid #f5c2bf; color: var(--firing); }
.status { margin-left: auto; padding: .1em .6em; border-radius: 1em; font-size: .9em; border: 1px solid var(--line); }
.status[data-mode="stream"] { color: var(--ok); border-color: var(--ok); }
.status[data-mode="polling"] { color: var(--pending); border-color: var(--pending); }
.chart { margin: 0 0 1em; }
figcaption { color: var(--muted); }
svg { width: 100%; height: auto; display: block; }
svg .axis { stroke: var(--line); stroke-width: 1; }
svg text { fill: var(--muted); font-size: 11px; }
svg polyline { fill: none; stroke-width: 1.6; }
.legend { list-style: none; padding: 0; margin: .3em 0 0; display: flex; flex-wrap: wrap; gap: .2em 1em; }
.legend li { white-space: nowrap; }
.legend li::before { content: ""; display: inline-block; width: .8em; height: .8em; margin-right: .3em; border-radius: 2px; vertical-align: -1px; }
.c0 { stroke: #1f77b4; } .legend .c0::before { background: #1f77b4; }
.c1 { stroke: #ff7f0e; } .legend .c1::before { background: #ff7f0e; }
.c2 { stroke: #2ca02c; } .legend .c2::before { background: #2ca02c; }
.c3 { stroke: #d62728; } .legend .c3::before { background: #d62728; }
.c4 { stroke: #9467bd; } .legend .c4::before { background: #9467bd; }
.c5 { stroke: #8c564b; } .legend .c5::before { background: #8c564b; }
.c6 { stroke: #e377c2; } .legend .c6::before { background: #e377c2; }
.c7 { stroke: #7f7f7f; } .legend .c7::before { background: #7f7f7f; }
#alert-list, #transition-list { margin: 0; padding: 0; list-style: none; }
#alert-list li { border-left: 4px solid var(--pending); padding: .3em .6em; margin-bottom: .5em; background: #fffaf0; }
#alert-list li[data-state="firing"] { border-color: var(--firing); background: #fdf3f3; }
.alert-name { font-weight: 600; }
.labels { color: var(--muted); font-family: ui-monospace, monospace; font-size: .85em; overflow-wrap: anywhere; }
.annotations { margin: .2em 0 0; }
.annotations dt { font-weight: 600; float: left; clear: left; margin-right: .4em; }
.annotations dd { margin: 0; overflow-wrap: anywhere; }
#transition-list li { padding: .2em 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
#transition-list time { color: var(--muted); margin-right: .5em; font-variant-numeric: tabular-nums; }
.state-firing { color: var(--firing); font-weight: 600; }
.state-resolved { color: var(--ok); font-weight: 600; }
.state-pending, .state-amended { color: var(--pending); font-weight: 600; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
"""#

    static let icon = #"""
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1d232b"/><polyline points="2,12 6,8 9,10 14,3" fill="none" stroke="#ff7f0e" stroke-width="2"/></svg>
"""#
}
