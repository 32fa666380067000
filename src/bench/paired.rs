//! Paired comparison of two methods on the same seeds (COSINE − stage 1 by default): the
//! per-seed differences, their mean with a two-sided 95% Student-t interval, and wins / ties /
//! losses. Seeds share the label model, the data order and (for COSINE and `weak`) stage 1
//! itself, so the paired difference has far less noise than the gap between two means.

use serde::{Deserialize, Serialize};

use super::BenchMetric;
use super::{BenchConfig, BenchMethod, Cell};

/// `a − b` on one dataset, seed by seed (seeds where both cells finished).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub dataset: String,
    pub metric: BenchMetric,
    pub a: BenchMethod,
    pub b: BenchMethod,
    pub seeds: Vec<u64>,
    /// Test score of `a` minus that of `b`, per seed.
    pub test_diff: Vec<f64>,
    /// Best validation score of `a` minus that of `b`, per seed (when both have one).
    pub valid_diff: Vec<Option<f64>>,
    pub mean: f64,
    /// Sample standard deviation of the differences (0 with one seed).
    pub std: f64,
    /// Two-sided 95% t interval of the mean difference; `None` with fewer than two seeds.
    pub ci95: Option<(f64, f64)>,
    pub wins: usize,
    pub ties: usize,
    pub losses: usize,
}

/// Mean and sample standard deviation (`numpy.mean(x), numpy.std(x, ddof=1)`; std 0 for n < 2).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len();
    let mean = xs.iter().sum::<f64>() / n.max(1) as f64;
    let std = if n > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    (mean, std)
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (`scipy.stats.t.ppf(0.975, df)`):
/// a table to 30, then the first Cornish–Fisher term `z + (z³ + z) / (4 df)`.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    assert!(df > 0, "t975 needs at least one degree of freedom");
    if df <= T.len() {
        T[df - 1]
    } else {
        let z = 1.959_964;
        z + (z * z * z + z) / (4.0 * df as f64)
    }
}

/// `a − b` per dataset of `cfg` where both methods are in the grid, seeds in config order.
pub fn paired(cfg: &BenchConfig, cells: &[Cell], a: BenchMethod, b: BenchMethod) -> Vec<Paired> {
    if !(cfg.methods.contains(&a) && cfg.methods.contains(&b)) {
        return Vec::new();
    }
    let find = |d: &str, m: BenchMethod, s: u64| {
        cells.iter().find(|c| c.dataset == d && c.method == m && c.seed == s && c.score.is_some())
    };
    let mut out = Vec::new();
    for d in &cfg.datasets {
        let (mut seeds, mut test_diff, mut valid_diff) = (Vec::new(), Vec::new(), Vec::new());
        for &s in &cfg.seeds {
            let (Some(x), Some(y)) = (find(&d.name, a, s), find(&d.name, b, s)) else { continue };
            seeds.push(s);
            test_diff.push(x.score.unwrap_or(f64::NAN) - y.score.unwrap_or(f64::NAN));
            valid_diff.push(x.valid.zip(y.valid).map(|(u, v)| u - v));
        }
        if seeds.is_empty() {
            continue;
        }
        let (mean, std) = mean_std(&test_diff);
        let n = test_diff.len();
        let ci95 = (n > 1).then(|| {
            let h = t975(n - 1) * std / (n as f64).sqrt();
            (mean - h, mean + h)
        });
        const TIE: f64 = 1e-9;
        out.push(Paired {
            dataset: d.name.clone(),
            metric: d.metric,
            a,
            b,
            wins: test_diff.iter().filter(|&&x| x > TIE).count(),
            ties: test_diff.iter().filter(|&&x| x.abs() <= TIE).count(),
            losses: test_diff.iter().filter(|&&x| x < -TIE).count(),
            seeds,
            test_diff,
            valid_diff,
            mean,
            std,
            ci95,
        });
    }
    out
}

/// The Markdown section for `results.md` (empty when there is nothing to pair).
pub fn markdown(rows: &[Paired]) -> String {
    let Some(first) = rows.first() else { return String::new() };
    let signed = |x: f64| format!("{}{:.3}", if x < 0.0 { "−" } else { "+" }, x.abs());
    let mut md = format!(
        "\n## {} − {}, paired by seed\n\nTest difference per seed (valid difference in brackets), mean with a two-sided 95% Student-t interval, and wins / ties / losses.\n\n| dataset | metric | per seed | mean | 95% interval | W / T / L |\n|---|---|---|---|---|---|\n",
        first.a.name(),
        first.b.name()
    );
    for p in rows {
        let per: Vec<String> = p
            .seeds
            .iter()
            .zip(&p.test_diff)
            .zip(&p.valid_diff)
            .map(|((s, t), v)| {
                format!("{s}: {}{}", signed(*t), v.map_or(String::new(), |v| format!(" ({})", signed(v))))
            })
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} / {} / {} |\n",
            p.dataset,
            p.metric.name(),
            per.join(", "),
            signed(p.mean),
            p.ci95.map_or("–".into(), |(l, h)| format!("[{}, {}]", signed(l), signed(h))),
            p.wins,
            p.ties,
            p.losses
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_scipy() {
        // scipy.stats.t.ppf(0.975, [1, 2, 4, 30, 60, 1000]) = 12.706, 4.303, 2.776, 2.042, 2.000, 1.962
        for (df, want) in [(1, 12.706), (2, 4.303), (4, 2.776), (30, 2.042), (60, 2.000), (1000, 1.962)] {
            assert!((t975(df) - want).abs() < 2e-3, "df {df}: {} vs {want}", t975(df));
        }
    }

    #[test]
    fn mean_std_is_numpy_ddof_1() {
        // numpy.mean([0.96, 0.928, 0.956]) = 0.948, numpy.std(..., ddof=1) = 0.017436...
        let (m, s) = mean_std(&[0.96, 0.928, 0.956]);
        assert!((m - 0.948).abs() < 1e-12 && (s - 0.017_435_595).abs() < 1e-8, "{m} {s}");
        assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
    }
}
