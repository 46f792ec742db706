"""Rendering an audit: a readable text report, JSON for scripts, one self-contained HTML page.

The HTML page has inline CSS and inline SVG plots only: no scripts, no external assets,
so it can be attached to an issue or opened offline.
"""

from __future__ import annotations

import html
import json
from typing import Any

from .audit import AuditReport, DatasetAudit, PatternAudit
from .budget import length_stats
from .diagnostics import render_all


def render_json(report: AuditReport) -> str:
    return json.dumps(report.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ================================================================ text


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _domain_text(pa: PatternAudit) -> str:
    d = pa.domain
    if d.value is None:
        return "?"
    if d.exact:
        return f"{d.value:,}"
    if d.method.startswith("lower_bound"):
        return f">={d.value:,} (all sampled distinct)"
    return f"~{d.value:,} ({d.method.split(':', 1)[1]})"


def render_text(report: AuditReport, top: int = 20) -> str:
    data = report.to_json()
    out: list[str] = []
    failing = report.failing
    out.append(f"tasklang audit: {len(report.patterns)} pattern(s), {len(failing)} failing; "
               f"{len(report.datasets)} dataset(s); {report.n} checked samples per pattern, "
               f"seed {report.seed}")
    if report.diagnostics:
        out += ["", "Check errors (patterns with errors are not sampled):",
                render_all(report.diagnostics, report.sources)]
    out += ["", "Generator audit", _pattern_table(report.patterns)]
    for pa in report.patterns:
        linted = {d.code for d in pa.lints}  # shown below, each at its line
        for issue in pa.issues.values():
            if issue.kind in linted:
                continue
            out.append(f"  {pa.name}: {issue.severity}[{issue.kind}] x{issue.count}: "
                       f"{issue.message}")
            if issue.example:
                out.append(f"      e.g. {_clip(issue.example, 160)}")
        for d in pa.lints:
            out.append(f"  {d.headline()}")
            out += [f"      {note[:160]}" for note in d.notes[:21]]  # a histogram: 20 lines
    for da in report.datasets:
        out += ["", *_dataset_text(da)]
    if report.coverage is not None:
        out += ["", *_coverage_text(data, top)]
    out += ["", "result: " + ("ok" if report.ok else "FAILED: " + (", ".join(failing)
                                                                  or "check errors"))]
    return "\n".join(out) + "\n"


def _pattern_table(patterns: list[PatternAudit]) -> str:
    rows = [("pattern", "expert", "reject", "domain", "shapes", "status")]
    for pa in patterns:
        status = "ok" if pa.ok else "FAIL"
        warnings = sum(1 for i in pa.issues.values() if i.severity == "warning")
        if warnings:
            status += f" ({warnings} warning{'s' if warnings > 1 else ''})"
        rows.append((pa.name, pa.expert or "(text)", _pct(pa.rejection_rate), _domain_text(pa),
                     str(len(pa.shapes)), status))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i != 2 else c.rjust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     .rstrip() for row in rows)


def _dataset_text(da: DatasetAudit) -> list[str]:
    head = f"Dataset {da.name} ({da.file}:{da.line})"
    if da.skipped:
        return [head, f"  skipped: {da.skipped}"]
    p, c = length_stats(da.prompt_tokens), length_stats(da.completion_tokens)
    lines = [head,
             f"  splits: {', '.join(f'{k} {v}' for k, v in da.sizes.items())}",
             f"  tokens ({da.token_method}; {da.token_sample} examples sampled):",
             f"    prompt      p50 {p['p50']}  p95 {p['p95']}  max {p['max']}"
             f"   (max_length {da.max_length})",
             f"    completion  p50 {c['p50']}  p95 {c['p95']}  max {c['max']}"
             f"   (max_new_tokens {da.max_new_tokens})"]
    few = [r for r in da.template_repeats if r["few"]]
    lines.append(f"  template repeats: {len(da.template_repeats) - len(few)} ok, {len(few)} "
                 f"below {da.min_repeats}")
    lines += [f"    {r['template']} [{r['split']}/{r['language']}]: about "
              f"{r['per_template']:.1f} examples" for r in few[:10]]
    for title, table in (("query targets", da.query_targets), ("step counts", da.step_counts)):
        lines.append(f"  {title} per expert:" + ("" if table else " (no trace patterns)"))
        for expert, values in sorted(table.items()):
            mark = "  <- more than one" if len(values) > 1 else ""
            shown = "; ".join(f"{v}: {', '.join(ps)}" for v, ps in sorted(values.items()))
            lines.append(f"    {expert}: {_clip(shown, 140)}{mark}")
    overlaps = ", ".join(f"{' & '.join(o['experts'])} ({', '.join(o['ops'])})"
                         for o in da.overlaps) or "none"
    lines.append(f"  op-vocabulary overlaps: {overlaps}")
    return lines


def _coverage_text(data: dict[str, Any], top: int) -> list[str]:
    ref = data["reference"]
    lines = [f"Coverage of {ref['path']} ({ref['problems']} problems)",
             f"  expressible (converted trace reaches the gold answer): {ref['expressible']} "
             f"({_pct(data['expressible_fraction'])})"]
    if ref["not_expressible"]:
        lines.append("    not expressible: " + ", ".join(
            f"{k} {v}" for k, v in ref["not_expressible"].items()))
    lines += [f"  strict coverage (same graph shape): {ref['covered']} "
              f"({_pct(data['coverage_fraction'])})",
              f"  loose coverage (same op multiset):  {ref['loosely_covered']} "
              f"({_pct(data['loose_coverage_fraction'])})", "  per expert (strict / loose):"]
    for expert, row in data["coverage_by_expert"].items():
        lines.append(f"    {expert:<28} {row['strict']:>6} / {row['loose']:<6} "
                     f"({len(row['patterns'])} pattern(s))")
    covering = [(n, r) for n, r in data["coverage_by_pattern"].items() if r["strict"]]
    if covering:
        lines.append("  patterns that cover references (strict):")
        for name, row in sorted(covering, key=lambda kv: -kv[1]["strict"]):
            lines.append(f"    {name:<36} {row['strict']:>6}  e.g. line "
                         f"{', '.join(map(str, row['example_lines'][:3]))}")
    shapes = data["uncovered_shapes"]
    lines.append(f"  uncovered shapes: {data['uncovered_shape_count']} distinct; the most "
                 f"frequent (what to write next):")
    for s in shapes[:top]:
        loose = f"  [op multiset covered by {', '.join(s['loosely_covered_by'][:3])}]" \
            if s["loosely_covered_by"] else ""
        lines.append(f"  {s['rank']:>4}. {s['count']:>5}x  {s['shape']}   "
                     f"({s['op_multiset']}){loose}")
        lines.append(f"         line {s['example']['line']}: "
                     f"{_clip(s['example']['question'], 150)}")
    return lines


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ================================================================ html

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;
color:#1d232a;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;width:100%;margin:.5em 0}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.warn{color:#9a6700}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f6f8fa;padding:.5em;overflow:auto;margin:.2em 0}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;
padding:.6em 1em;min-width:150px}.card b{display:block;font-size:1.4em}
.plots{display:flex;gap:1.5em;flex-wrap:wrap}.muted{color:#57606a}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render_html(report: AuditReport, top: int = 50) -> str:
    data = report.to_json()
    parts = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<title>tasklang audit</title>", f"<style>{_CSS}</style></head><body>",
             "<h1>tasklang audit</h1>", _cards(report, data)]
    parts += ["<h2>Generator audit</h2>", _html_patterns(report.patterns)]
    for da in report.datasets:
        parts.append(_html_dataset(da))
    if report.coverage is not None:
        parts.append(_html_coverage(data, top))
    parts.append(f"<p class=\"muted\">paths: {_e(', '.join(report.paths))}; "
                 f"tasklang {_e(data['version'])}</p></body></html>")
    return "\n".join(parts) + "\n"


def _cards(report: AuditReport, data: dict[str, Any]) -> str:
    cards = [("patterns", str(len(report.patterns))),
             ("failing", str(len(report.failing))),
             ("datasets", str(len(report.datasets)))]
    if report.coverage is not None:
        cards += [("expressible", _pct(data["expressible_fraction"])),
                  ("strict coverage", _pct(data["coverage_fraction"])),
                  ("loose coverage", _pct(data["loose_coverage_fraction"]))]
    body = "".join(f"<div class=\"card\"><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards)
    status = "<p class=\"ok\">all patterns pass</p>" if report.ok else \
        f"<p class=\"fail\">failing: {_e(', '.join(report.failing) or 'check errors')}</p>"
    return f"<div class=\"cards\">{body}</div>{status}"


def _html_patterns(patterns: list[PatternAudit]) -> str:
    rows = ["<table><tr><th>pattern</th><th>expert</th><th>samples</th><th>rejected</th>"
            "<th>domain</th><th>shapes</th><th>status</th><th>issues</th></tr>"]
    for pa in patterns:
        domain = _e(_domain_text(pa))
        issues = "<br>".join(
            f"<span class=\"{'fail' if i.severity == 'error' else 'warn'}\">{_e(i.kind)}</span> "
            f"x{i.count}: {_e(i.message)}" + (f"<br><code>{_e(i.example)}</code>" if i.example
                                               else "")
            for i in pa.issues.values())
        status = "<span class=\"ok\">ok</span>" if pa.ok else "<span class=\"fail\">FAIL</span>"
        shapes = "<br>".join(f"<code>{_e(s)}</code>" for s in sorted(pa.shapes)[:4])
        rows.append(f"<tr><td>{_e(pa.name)}<br><span class=\"muted\">{_e(pa.file)}:{pa.line}"
                    f"</span></td><td>{_e(pa.expert or '(text)')}</td>"
                    f"<td class=\"num\">{pa.checked}</td>"
                    f"<td class=\"num\">{_pct(pa.rejection_rate)}</td><td class=\"num\">{domain}"
                    f"</td><td>{shapes}</td><td>{status}</td><td>{issues}</td></tr>")
    rows.append("</table>")
    return "".join(rows)


def histogram_svg(values: list[int], title: str, limit: int | None = None, bins: int = 24,
                  width: int = 480, height: int = 200) -> str:
    """A bar histogram as inline SVG; a dashed line marks `limit` when it is in range."""
    pad_l, pad_b, pad_t = 40, 30, 22
    plot_w, plot_h = width - pad_l - 10, height - pad_b - pad_t
    head = f"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" " \
           f"role=\"img\" aria-label=\"{_e(title)}\">"
    if limit is not None:
        title += f" (limit {limit})"
    label = f"<text x=\"{pad_l}\" y=\"14\" font-size=\"12\" font-weight=\"600\">{_e(title)}</text>"
    if not values:
        return head + label + f"<text x=\"{pad_l}\" y=\"{height / 2}\" font-size=\"12\">" \
                              "no samples</text></svg>"
    hi = max(max(values), limit or 0) if limit and limit <= 2 * max(values) else max(values)
    lo = 0
    step = max(1, -(-(hi - lo + 1) // bins))
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, (v - lo) // step)] += 1
    peak = max(counts)
    bar_w = plot_w / bins
    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / peak if peak else 0
        x, y = pad_l + i * bar_w, pad_t + plot_h - h
        bars.append(f"<rect x=\"{x:.1f}\" y=\"{y:.1f}\" width=\"{max(bar_w - 1, 1):.1f}\" "
                    f"height=\"{h:.1f}\" fill=\"#4c72b0\"><title>{lo + i * step}–"
                    f"{lo + (i + 1) * step - 1}: {c}</title></rect>")
    axis = (f"<line x1=\"{pad_l}\" y1=\"{pad_t + plot_h}\" x2=\"{pad_l + plot_w}\" "
            f"y2=\"{pad_t + plot_h}\" stroke=\"#57606a\"/>"
            f"<text x=\"{pad_l}\" y=\"{height - 8}\" font-size=\"11\">{lo}</text>"
            f"<text x=\"{pad_l + plot_w}\" y=\"{height - 8}\" font-size=\"11\" "
            f"text-anchor=\"end\">{lo + bins * step}</text>"
            f"<text x=\"{pad_l - 4}\" y=\"{pad_t + 8}\" font-size=\"11\" "
            f"text-anchor=\"end\">{peak}</text>")
    mark = ""
    if limit is not None and lo <= limit <= lo + bins * step:
        x = pad_l + plot_w * (limit - lo) / (bins * step)
        anchor = "end" if x > pad_l + 0.85 * plot_w else "middle"
        mark = (f"<line x1=\"{x:.1f}\" y1=\"{pad_t}\" x2=\"{x:.1f}\" y2=\"{pad_t + plot_h}\" "
                f"stroke=\"#cf222e\" stroke-dasharray=\"4 3\"/><text x=\"{x:.1f}\" "
                f"y=\"{pad_t - 4}\" font-size=\"10\" fill=\"#cf222e\" text-anchor=\"{anchor}\">"
                f"limit {limit}</text>")
    return head + label + "".join(bars) + axis + mark + "</svg>"


def _html_dataset(da: DatasetAudit) -> str:
    out = [f"<h2>Dataset {_e(da.name)} <span class=\"muted\">({_e(da.file)}:{da.line})</span></h2>"]
    if da.skipped:
        return out[0] + f"<p class=\"warn\">skipped: {_e(da.skipped)}</p>"
    p, c = length_stats(da.prompt_tokens), length_stats(da.completion_tokens)
    out.append(f"<p>splits: {_e(', '.join(f'{k} {v}' for k, v in da.sizes.items()))}. "
               f"Token lengths of {da.token_sample} sampled examples, {_e(da.token_method)}: "
               f"prompt p50 {p['p50']}, p95 {p['p95']}, max {p['max']}; completion p50 "
               f"{c['p50']}, p95 {c['p95']}, max {c['max']}.</p>")
    out.append("<div class=\"plots\">"
               + histogram_svg(da.prompt_tokens, f"{da.name}: prompt tokens", da.max_length)
               + histogram_svg(da.completion_tokens, f"{da.name}: completion tokens",
                               da.max_new_tokens) + "</div>")
    warnings = da.warnings
    out.append("<p>Lints: " + ("none" if not warnings else "</p><ul>" + "".join(
        f"<li class=\"warn\">{_e(w)}</li>" for w in warnings) + "</ul><p>") + "</p>")
    rows = "".join(f"<tr><td>{_e(e)}</td><td>{_e(_joined(targets))}</td>"
                   f"<td>{_e(_joined(da.step_counts.get(e, {})))}</td></tr>"
                   for e, targets in sorted(da.query_targets.items()))
    out.append("<table><tr><th>expert</th><th>query targets</th><th>step counts</th></tr>"
               f"{rows}</table>")
    return "".join(out)


def _joined(values: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(values.items()))


def bars_svg(rows: list[tuple[str, int, int]], total: int, width: int = 720) -> str:
    """Horizontal bars per expert: strict coverage (dark) over loose coverage (light),
    scaled to the largest bar so that small coverages stay visible."""
    label_w, bar_h, gap = 220, 16, 8
    height = max(1, len(rows)) * (bar_h + gap) + 30
    plot_w = width - label_w - 200
    scale = max([loose for _, _, loose in rows] + [strict for _, strict, _ in rows] + [1])
    out = [f"<svg width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" "
           "role=\"img\" aria-label=\"coverage per expert\">"]
    for i, (name, strict, loose) in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        ws, wl = plot_w * strict / scale, plot_w * loose / scale
        share = (lambda k: f"{k / total:.1%}") if total else (lambda k: "-")
        out.append(f"<text x=\"{label_w - 6}\" y=\"{y + 12}\" font-size=\"12\" "
                   f"text-anchor=\"end\">{_e(name)}</text>"
                   f"<rect x=\"{label_w}\" y=\"{y}\" width=\"{wl:.1f}\" height=\"{bar_h}\" "
                   f"fill=\"#c6dbef\"><title>loose {loose}</title></rect>"
                   f"<rect x=\"{label_w}\" y=\"{y}\" width=\"{ws:.1f}\" height=\"{bar_h}\" "
                   f"fill=\"#2171b5\"><title>strict {strict}</title></rect>"
                   f"<text x=\"{label_w + max(wl, ws) + 6:.1f}\" y=\"{y + 12}\" font-size=\"11\">"
                   f"strict {strict} ({share(strict)}) / loose {loose} ({share(loose)})</text>")
    out.append(f"<text x=\"{label_w}\" y=\"{height - 8}\" font-size=\"11\" fill=\"#57606a\">"
               f"strict (dark) and loose (light) coverage; percentages of {total} reference "
               "problems</text></svg>")
    return "".join(out)


def _html_coverage(data: dict[str, Any], top: int) -> str:
    ref = data["reference"]
    total = ref["problems"]
    out = [f"<h2>Coverage of {_e(ref['path'])}</h2>",
           f"<p>{total} problems; {ref['expressible']} expressible "
           f"({_pct(data['expressible_fraction'])}: the converted trace reaches the gold answer); "
           f"strict coverage {ref['covered']} ({_pct(data['coverage_fraction'])}, same graph "
           f"shape); loose coverage {ref['loosely_covered']} "
           f"({_pct(data['loose_coverage_fraction'])}, same op multiset).</p>"]
    if ref["not_expressible"]:
        out.append("<p class=\"muted\">not expressible: " + _e(", ".join(
            f"{k} {v}" for k, v in ref["not_expressible"].items())) + "</p>")
    rows = [(e, r["strict"], r["loose"]) for e, r in data["coverage_by_expert"].items()]
    out += ["<h3>Coverage per expert</h3>", bars_svg(rows, total)]
    out.append(f"<h3>Top uncovered shapes ({data['uncovered_shape_count']} distinct)</h3>")
    out.append("<table><tr><th>#</th><th>count</th><th>shape</th><th>ops</th>"
               "<th>example question and converted trace</th></tr>")
    for s in data["uncovered_shapes"][:top]:
        ex = s["example"]
        out.append(f"<tr><td class=\"num\">{s['rank']}</td><td class=\"num\">{s['count']}</td>"
                   f"<td><code>{_e(s['shape'])}</code></td><td>{_e(s['op_multiset'])}</td>"
                   f"<td>line {ex['line']}: {_e(ex['question'])}<pre>{_e(ex['trace'] or '')}"
                   "</pre></td></tr>")
    out.append("</table>")
    return "".join(out)
