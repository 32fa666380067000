//! Minimal SVG charts (keyed scatter, horizontal bars, lines) written by hand: deterministic output, no
//! font files, viewable in any browser or Markdown renderer.

use std::fmt::Write;

const W: f64 = 720.0;
const ML: f64 = 70.0; // left margin
const MR: f64 = 20.0;
const MT: f64 = 40.0;
const MB: f64 = 50.0;

/// `s` escaped for XML and HTML text and attribute values.
pub fn esc(s: &str) -> String {
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

/// Colours for classes (Tableau 10), cycled past ten classes.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf",
];
/// The colour of an item that belongs to several classes.
const MIXED: &str = "#444444";

/// One numbered item of [`keyed_scatter`]: its name, its class (`None`: several classes) and its
/// point in the unit square (`None`: not plotted, listed in the note).
pub struct KeyedPoint<'a> {
    pub name: &'a str,
    pub class: Option<usize>,
    pub point: Option<(f64, f64)>,
}

/// A scatter plot in the unit square whose points are numbered, coloured by class (legend), with
/// the names in a side table keyed by number, so that no name overlaps another however many
/// items there are. Numbers are placed beside their point where they do not overlap a number
/// already placed (else left off; the table and the point's tooltip still give it). Items without
/// a point are listed under the plot with `unplotted` as their heading.
pub fn keyed_scatter(
    title: &str,
    xlabel: &str,
    ylabel: &str,
    items: &[KeyedPoint],
    classes: &[String],
    unplotted: &str,
) -> String {
    const PLOT_W: f64 = 560.0;
    const PLOT_H: f64 = 440.0;
    const ROW_H: f64 = 13.0;
    const COL_W: f64 = 230.0;
    let colour = |c: Option<usize>| c.map_or(MIXED, |k| PALETTE[k % PALETTE.len()]);
    let plotted: Vec<(usize, &KeyedPoint)> =
        items.iter().enumerate().filter(|(_, i)| i.point.is_some()).collect();
    let missing: Vec<&str> = items.iter().filter(|i| i.point.is_none()).map(|i| i.name).collect();
    // Side table: legend rows, then one row per plotted item, in columns of at most `per_col`.
    let per_col = ((PLOT_H / ROW_H) as usize).max(10);
    // A legend row for items of several classes, when one is plotted.
    let mixed = items.iter().any(|i| i.class.is_none() && i.point.is_some());
    let legend_rows = classes.len() + usize::from(mixed) + 1;
    let rows = legend_rows + plotted.len();
    let cols = rows.div_ceil(per_col).max(1);
    let note_lines: Vec<String> = if missing.is_empty() {
        Vec::new()
    } else {
        let text = format!("{unplotted} ({}): {}", missing.len(), missing.join(", "));
        let width_chars = ((ML + PLOT_W + MR + cols as f64 * COL_W) / 6.0) as usize;
        wrap(&text, width_chars.max(40))
    };
    let w = ML + PLOT_W + MR + cols as f64 * COL_W;
    let h =
        MT + PLOT_H + MB + note_lines.len() as f64 * ROW_H + if note_lines.is_empty() { 0.0 } else { 10.0 };
    let (pw, ph) = (PLOT_W, PLOT_H);
    let px = |x: f64| ML + x.clamp(0.0, 1.0) * pw;
    let py = |y: f64| MT + (1.0 - y.clamp(0.0, 1.0)) * ph;
    let mut s = open(w, h, title);
    let ticks: Vec<Tick> = (0..=10)
        .map(|k| k as f64 / 10.0)
        .map(|t| (px(t), py(t), format!("{t:.1}"), format!("{t:.1}")))
        .collect();
    axes(&mut s, MT + PLOT_H + MB, pw, ph, &ticks, xlabel, ylabel);
    // Points first, then their numbers where they fit.
    let mut placed: Vec<(f64, f64, f64, f64)> = Vec::new();
    for (k, item) in &plotted {
        let (x, y) = item.point.expect("plotted");
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{}" fill-opacity="0.85"><title>{}. {}: ({x:.3}, {y:.3})</title></circle>"##,
            px(x),
            py(y),
            colour(item.class),
            k + 1,
            esc(item.name)
        );
        // Circles are obstacles for numbers too.
        placed.push((px(x) - 4.0, py(y) - 4.0, px(x) + 4.0, py(y) + 4.0));
    }
    for (k, item) in &plotted {
        let (x, y) = item.point.expect("plotted");
        let (cx, cy) = (px(x), py(y));
        let label = (k + 1).to_string();
        let tw = 5.5 * label.len() as f64;
        let th = 9.0;
        let spots = [
            (6.0, -2.0),
            (-6.0 - tw, -2.0),
            (-tw / 2.0, -7.0),
            (-tw / 2.0, 6.0 + th),
            (6.0, 8.0),
            (-6.0 - tw, 8.0),
        ];
        for (dx, dy) in spots {
            let (x0, y1) = (cx + dx, cy + dy);
            let b = (x0, y1 - th, x0 + tw, y1);
            let inside = b.0 >= ML && b.2 <= ML + pw && b.1 >= MT && b.3 <= MT + ph;
            let free = placed.iter().all(|p| b.2 <= p.0 || b.0 >= p.2 || b.3 <= p.1 || b.1 >= p.3);
            if inside && free {
                let _ = writeln!(
                    s,
                    r##"<text x="{x0:.1}" y="{y1:.1}" font-size="9" fill="#222">{label}</text>"##
                );
                placed.push(b);
                break;
            }
        }
    }
    // The side table.
    let x0 = ML + PLOT_W + MR + 10.0;
    let mut row = 0usize;
    let at = |row: usize| (x0 + (row / per_col) as f64 * COL_W, MT + 4.0 + (row % per_col) as f64 * ROW_H);
    let (tx, ty) = at(row);
    let _ = writeln!(s, r##"<text x="{tx:.1}" y="{ty:.1}" font-weight="bold">class (colour)</text>"##);
    row += 1;
    let mut legend: Vec<(String, &str)> =
        classes.iter().enumerate().map(|(k, c)| (c.clone(), colour(Some(k)))).collect();
    if mixed {
        legend.push(("several classes".into(), MIXED));
    }
    for (name, c) in legend {
        let (tx, ty) = at(row);
        let _ = writeln!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{c}"/><text x="{:.1}" y="{ty:.1}">{}</text>"##,
            tx + 4.0,
            ty - 4.0,
            tx + 12.0,
            esc(&name)
        );
        row += 1;
    }
    for (k, item) in &plotted {
        let (tx, ty) = at(row);
        let name: String = item.name.chars().take(32).collect();
        let _ = writeln!(
            s,
            r##"<text x="{tx:.1}" y="{ty:.1}" fill="{}">{}. {}</text>"##,
            colour(item.class),
            k + 1,
            esc(&name)
        );
        row += 1;
    }
    for (i, line) in note_lines.iter().enumerate() {
        let _ = writeln!(
            s,
            r##"<text x="{ML}" y="{:.1}" fill="#555">{}</text>"##,
            MT + PLOT_H + MB + 4.0 + i as f64 * ROW_H,
            esc(line)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `text` in lines of at most `width` characters, broken at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + word.chars().count() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

#[cfg(test)]
mod keyed_tests {
    use super::*;

    /// `(x, y, text)` of the point numbers (font-size 9 texts).
    fn numbers(svg: &str) -> Vec<(f64, f64, String)> {
        let re =
            regex::Regex::new(r#"<text x="([\d.]+)" y="([\d.]+)" font-size="9" fill="\#222">(\d+)</text>"#)
                .unwrap();
        re.captures_iter(svg)
            .map(|c| (c[1].parse().unwrap(), c[2].parse().unwrap(), c[3].to_string()))
            .collect()
    }

    #[test]
    fn many_lfs_get_numbers_that_never_overlap_a_table_and_a_note() {
        // 170 LFs over 3 classes, many crowded in one corner, 5 that never fire.
        let names: Vec<String> = (0..170).map(|i| format!("lf_{i}")).collect();
        let items: Vec<KeyedPoint> = names
            .iter()
            .enumerate()
            .map(|(i, n)| KeyedPoint {
                name: n,
                class: if i % 7 == 0 { None } else { Some(i % 3) },
                point: (i >= 5).then(|| ((i % 13) as f64 / 200.0, 0.5 + (i % 11) as f64 / 40.0)),
            })
            .collect();
        let classes = vec!["ham".to_string(), "spam".into(), "other".into()];
        let svg = keyed_scatter("t", "x", "y", &items, &classes, "never fire");
        for k in [6, 100, 170] {
            assert!(svg.contains(&format!(">{k}. lf_{} <", k - 1).replace(" <", "<")), "table row {k}");
        }
        assert!(svg.contains("never fire (5): lf_0, lf_1, lf_2, lf_3, lf_4"));
        for c in &classes {
            assert!(svg.contains(&format!(">{c}</text>")), "legend {c}");
        }
        assert!(svg.contains("several classes"));
        assert!(svg.contains(PALETTE[1]) && svg.contains(PALETTE[2]));
        let nums = numbers(&svg);
        assert!(nums.len() > 10, "numbers are placed where they fit: {}", nums.len());
        let boxes: Vec<(f64, f64, f64, f64)> =
            nums.iter().map(|(x, y, t)| (*x, y - 9.0, x + 5.5 * t.len() as f64, *y)).collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.0 >= ML && a.3 <= MT + 440.0, "inside the plot: {a:?}");
            for b in &boxes[i + 1..] {
                let apart = a.2 <= b.0 || b.2 <= a.0 || a.3 <= b.1 || b.3 <= a.1;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }
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
