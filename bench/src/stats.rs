//! Order statistics of a set of samples: median, 95th percentile, maximum
//! (nearest rank, no interpolation: every figure is a real observation).

use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: &[f64]) -> Summary {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return Summary::default();
        }
        v.sort_by(f64::total_cmp);
        Summary {
            n: v.len(),
            p50: rank(&v, 0.50),
            p95: rank(&v, 0.95),
            max: v[v.len() - 1],
        }
    }

    pub fn json(&self) -> Value {
        json!({"p50": round(self.p50), "p95": round(self.p95), "max": round(self.max)})
    }
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    Summary::of(values).p50
}

/// Nearest-rank percentile of sorted, non-empty `v`.
fn rank(v: &[f64], q: f64) -> f64 {
    let idx = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[idx]
}

/// `a / b`, or `None` when `b` is not a usable divisor.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// Three decimals are plenty for milliseconds and keep the JSON short.
pub fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let cases: Vec<(Vec<f64>, Summary)> = vec![
            (vec![], Summary::default()),
            (
                vec![5.0],
                Summary {
                    n: 1,
                    p50: 5.0,
                    p95: 5.0,
                    max: 5.0,
                },
            ),
            (
                vec![4.0, 1.0, 3.0, 2.0],
                Summary {
                    n: 4,
                    p50: 2.0,
                    p95: 4.0,
                    max: 4.0,
                },
            ),
            (
                (1..=100).map(f64::from).collect(),
                Summary {
                    n: 100,
                    p50: 50.0,
                    p95: 95.0,
                    max: 100.0,
                },
            ),
            (
                vec![f64::NAN, 1.0],
                Summary {
                    n: 1,
                    p50: 1.0,
                    p95: 1.0,
                    max: 1.0,
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Summary::of(&input), want, "{input:?}");
        }
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(10.0, 2.0), Some(5.0));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }
}
