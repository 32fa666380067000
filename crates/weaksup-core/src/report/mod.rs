//! Reports: plain-text tables, CSV and small, dependency-free SVG charts.

pub mod svg;

/// An aligned plain-text table: the first `left` columns left-aligned, the others right-aligned,
/// two spaces between columns, trailing spaces trimmed; a line per row after the header.
pub fn aligned_table(header: &[&str], rows: &[Vec<String>], left: usize) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        cells
            .zip(&widths)
            .enumerate()
            .map(|(k, (c, w))| if k < left { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&mut header.iter().copied());
    out.push('\n');
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

/// CSV with a header; cells written as `-` (no value) are left empty.
pub fn csv_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(header);
    for r in rows {
        let _ = w.write_record(r.iter().map(|c| if c == "-" { "" } else { c.as_str() }));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}
