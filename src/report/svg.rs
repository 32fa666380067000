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

/// A scatter plot in the unit square (both axes 0..1), one labelled point per item; `None`
/// points are skipped.
pub fn scatter(title: &str, xlabel: &str, ylabel: &str, labels: &[String], points: &[Option<(f64, f64)>]) -> String {
    let h = 480.0;
    let (pw, ph) = (W - ML - MR, h - MT - MB);
    let px = |x: f64| ML + x.clamp(0.0, 1.0) * pw;
    let py = |y: f64| MT + (1.0 - y.clamp(0.0, 1.0)) * ph;
    let mut s = open(W, h, title);
    for k in 0..=10 {
        let t = k as f64 / 10.0;
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#eee"/><line x1="{}" y1="{y}" x2="{}" y2="{y}" stroke="#eee"/><text x="{x}" y="{}" text-anchor="middle">{t:.1}</text><text x="{}" y="{}" text-anchor="end">{t:.1}</text>"##,
            MT,
            MT + ph,
            ML,
            ML + pw,
            MT + ph + 16.0,
            ML - 6.0,
            py(t) + 4.0,
            x = px(t),
            y = py(t),
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>
<text x="{}" y="{}" text-anchor="middle">{}</text>
<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"##,
        ML + pw / 2.0,
        h - 12.0,
        esc(xlabel),
        MT + ph / 2.0,
        MT + ph / 2.0,
        esc(ylabel)
    );
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
            left + pw * v.clamp(0.0, 1.0) + 4.0,
            y + row * 0.7,
        );
    }
    let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, left + pw / 2.0, h - 12.0, esc(xlabel));
    s.push_str("</svg>\n");
    s
}
