//! Minimal SVG charts (scatter, horizontal bars) written by hand: deterministic output, no
//! font files, viewable in any browser or Markdown renderer.

use std::fmt::Write;

const W: f64 = 720.0;
const ML: f64 = 70.0; // left margin
const MR: f64 = 20.0;
const MT: f64 = 40.0;
const MB: f64 = 50.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn open(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="22" font-size="15" text-anchor="middle">{}</text>
"#,
        w / 2.0,
        esc(title)
    );
    s
}

/// A grid line pair: x pixel, y pixel, x tick text, y tick text.
type Tick = (f64, f64, String, String);

/// Grid lines, tick labels, the plot frame and axis labels.
fn axes(s: &mut String, h: f64, pw: f64, ph: f64, ticks: &[Tick], xlabel: &str, ylabel: &str) {
    for (x, y, xt, yt) in ticks {
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{MT}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><line x1="{ML}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{xt}</text><text x="{:.1}" y="{:.1}" text-anchor="end">{yt}</text>"##,
            MT + ph,
            ML + pw,
            MT + ph + 16.0,
            ML - 6.0,
            y + 4.0,
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>
<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>
<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"##,
        ML + pw / 2.0,
        h - 12.0,
        esc(xlabel),
        MT + ph / 2.0,
        MT + ph / 2.0,
        esc(ylabel)
    );
}

/// A scatter plot in the unit square (both axes 0..1), one labelled point per item; `None`
/// points are skipped.
pub fn scatter(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    labels: &[String],
    points: &[Option<(f64, f64)>],
) -> String {
    let h = 480.0;
    let (pw, ph) = (W - ML - MR, h - MT - MB);
    let px = |x: f64| ML + x.clamp(0.0, 1.0) * pw;
    let py = |y: f64| MT + (1.0 - y.clamp(0.0, 1.0)) * ph;
    let mut s = open(W, h, title);
    let ticks: Vec<Tick> = (0..=10)
        .map(|k| k as f64 / 10.0)
        .map(|t| (px(t), py(t), format!("{t:.1}"), format!("{t:.1}")))
        .collect();
    axes(&mut s, h, pw, ph, &ticks, xlabel, ylabel);
    for (label, p) in labels.iter().zip(points) {
        if let Some((x, y)) = p {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#1f77b4" fill-opacity="0.8"><title>{}: ({x:.3}, {y:.3})</title></circle><text x="{:.1}" y="{:.1}" font-size="9" fill="#444">{}</text>"##,
                px(*x),
                py(*y),
                esc(label),
                px(*x) + 5.0,
                py(*y) - 5.0,
                esc(label)
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal bars for values in 0..1, one per label.
pub fn bars(title: &str, xlabel: &str, labels: &[String], values: &[f64]) -> String {
    bars_with_errors(title, xlabel, labels, values, &[])
}

/// Horizontal bars for values in 0..1 with ± error whiskers (`errors` may be shorter than
/// `values`; missing or zero errors draw no whisker).
pub fn bars_with_errors(
    title: &str,
    xlabel: &str,
    labels: &[String],
    values: &[f64],
    errors: &[f64],
) -> String {
    let row = 18.0;
    let left = 20.0 + 6.5 * labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as f64;
    let h = MT + MB + row * labels.len().max(1) as f64;
    let pw = W - left - MR;
    let mut s = open(W, h, title);
    for (k, (label, v)) in labels.iter().zip(values).enumerate() {
        let y = MT + k as f64 * row;
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect x="{left:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#1f77b4"/><text x="{:.1}" y="{:.1}">{v:.3}</text>"##,
            left - 6.0,
            y + row * 0.7,
            esc(label),
            y + 2.0,
            pw * v.clamp(0.0, 1.0),
            row - 4.0,
            left + pw * v.clamp(0.0, 1.0)
                + 4.0
                + if errors.get(k).is_some_and(|e| *e > 0.0) { pw * errors[k] } else { 0.0 },
            y + row * 0.7,
        );
        if let Some(&e) = errors.get(k).filter(|e| **e > 0.0) {
            let (x0, x1, yc) =
                (left + pw * (v - e).clamp(0.0, 1.0), left + pw * (v + e).clamp(0.0, 1.0), y + row / 2.0);
            let _ = writeln!(
                s,
                r##"<line x1="{x0:.1}" y1="{yc:.1}" x2="{x1:.1}" y2="{yc:.1}" stroke="#222"/><line x1="{x0:.1}" y1="{:.1}" x2="{x0:.1}" y2="{:.1}" stroke="#222"/><line x1="{x1:.1}" y1="{:.1}" x2="{x1:.1}" y2="{:.1}" stroke="#222"/>"##,
                yc - 4.0,
                yc + 4.0,
                yc - 4.0,
                yc + 4.0
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + pw / 2.0,
        h - 12.0,
        esc(xlabel)
    );
    s.push_str("</svg>\n");
    s
}

const PALETTE: [&str; 8] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];

/// A line chart: one polyline per named series of (x, y) points, axes fitted to the data
/// (non-finite points are skipped), with a legend.
pub fn lines(title: &str, xlabel: &str, ylabel: &str, series: &[(String, Vec<(f64, f64)>)]) -> String {
    let h = 420.0;
    let (pw, ph) = (W - ML - MR - 140.0, h - MT - MB);
    let pts = || series.iter().flat_map(|(_, p)| p.iter()).filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts() {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-12 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-12 {
        (y0, y1) = (y0 - 0.5, y1 + 0.5);
    }
    let px = |x: f64| ML + (x - x0) / (x1 - x0) * pw;
    let py = |y: f64| MT + (1.0 - (y - y0) / (y1 - y0)) * ph;
    let mut s = open(W, h, title);
    let ticks: Vec<Tick> = (0..=5)
        .map(|k| {
            let t = k as f64 / 5.0;
            let (xv, yv) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
            (px(xv), py(yv), fmt_tick(xv), fmt_tick(yv))
        })
        .collect();
    axes(&mut s, h, pw, ph, &ticks, xlabel, ylabel);
    for (k, (name, points)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let path: Vec<String> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        if path.len() == 1 {
            let _ = writeln!(
                s,
                r#"<circle cx="{}" cy="{}" r="3" fill="{color}"/>"#,
                path[0].split(',').next().unwrap_or("0"),
                path[0].split(',').nth(1).unwrap_or("0")
            );
        } else if !path.is_empty() {
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
                path.join(" ")
            );
        }
        let ly = MT + 14.0 + 16.0 * k as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ML + pw + 12.0,
            ML + pw + 30.0,
            ML + pw + 34.0,
            ly + 4.0,
            esc(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn fmt_tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() { format!("{v:.0}") } else { format!("{v:.3}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_places_points_on_fitted_axes() {
        let svg = lines("t", "step", "loss", &[("a".into(), vec![(0.0, 1.0), (10.0, 0.0), (5.0, f64::NAN)])]);
        // x 0..10 → 70..(720-70-20-140=490)+70; y 1 → top (40), 0 → bottom (40 + 330).
        assert!(svg.contains(r#"points="70.0,40.0 560.0,370.0""#), "{svg}");
        assert!(svg.contains(">a</text>"));
        let b = bars_with_errors("b", "x", &["m".into()], &[0.5], &[0.1]);
        assert_eq!(b.matches("<line").count(), 3, "one whisker of three lines");
    }
}
