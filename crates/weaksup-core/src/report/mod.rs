//! Reports: small, dependency-free SVG charts.

pub mod svg;
