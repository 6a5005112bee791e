//! Bar charts drawn on the server as SVG (no script, no CDN, nothing for the CSP to allow):
//! the Overview's history and the Metrics tab's per-minute chart. Each bar is two stacked
//! parts, the good part and the failed part; every coordinate is a number computed here, and
//! each bar's title is text the template escapes.

/// The drawing's size in SVG units (it scales to the page's width).
pub(crate) const WIDTH: f64 = 720.0;
/// The bars' height at the tallest.
pub(crate) const HEIGHT: f64 = 120.0;

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub(crate) x: String,
    pub(crate) w: String,
    /// The good part: top and height.
    pub(crate) ok_y: String,
    pub(crate) ok_h: String,
    /// The failed part, on top of the good one.
    pub(crate) fail_y: String,
    pub(crate) fail_h: String,
    /// The tooltip: the bar's label and figures.
    pub(crate) title: String,
}

/// A chart: its bars, the tallest bar's total (the scale), the first and last labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u64,
    pub(crate) first: String,
    pub(crate) last: String,
    pub(crate) width: String,
    pub(crate) height: String,
}

/// One bar's data: its label, its total and how many of those failed.
pub(crate) struct Point {
    pub(crate) label: String,
    pub(crate) total: u64,
    pub(crate) failed: u64,
    /// Extra text for the tooltip.
    pub(crate) note: String,
}

fn num(v: f64) -> String {
    format!("{v:.2}")
}

impl Chart {
    /// Lays out `points` left to right.
    pub(crate) fn new(points: Vec<Point>) -> Self {
        let max = points.iter().map(|p| p.total).max().unwrap_or(0);
        let n = points.len().max(1) as f64;
        let slot = WIDTH / n;
        let w = (slot * 0.8).max(0.5);
        let scale = if max == 0 { 0.0 } else { HEIGHT / max as f64 };
        let first = points.first().map(|p| p.label.clone()).unwrap_or_default();
        let last = points.last().map(|p| p.label.clone()).unwrap_or_default();
        let bars = points
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let failed = p.failed.min(p.total);
                let fail_h = failed as f64 * scale;
                let ok_h = (p.total - failed) as f64 * scale;
                let x = i as f64 * slot + (slot - w) / 2.0;
                Bar {
                    x: num(x),
                    w: num(w),
                    ok_y: num(HEIGHT - ok_h),
                    ok_h: num(ok_h),
                    fail_y: num(HEIGHT - ok_h - fail_h),
                    fail_h: num(fail_h),
                    title: format!("{}: {} ({} failed){}", p.label, p.total, failed, p.note),
                }
            })
            .collect();
        Self {
            bars,
            max,
            first,
            last,
            width: num(WIDTH),
            height: num(HEIGHT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, total: u64, failed: u64) -> Point {
        Point {
            label: label.to_owned(),
            total,
            failed,
            note: String::new(),
        }
    }

    #[test]
    fn bars_stack_failures_on_top_and_scale_to_the_tallest() {
        let c = Chart::new(vec![p("a", 10, 5), p("b", 0, 0), p("c", 5, 9)]);
        assert_eq!(c.max, 10);
        assert_eq!((c.first.as_str(), c.last.as_str()), ("a", "c"));
        let a = &c.bars[0];
        assert_eq!((a.ok_h.as_str(), a.fail_h.as_str()), ("60.00", "60.00"));
        assert_eq!((a.ok_y.as_str(), a.fail_y.as_str()), ("60.00", "0.00"));
        assert_eq!(c.bars[1].ok_h, "0.00");
        // More failures than runs (a hand-edited key) draw as all failed, never negative.
        assert_eq!(c.bars[2].ok_h, "0.00");
        assert_eq!(c.bars[2].title, "c: 5 (5 failed)");
        assert!(Chart::new(vec![]).bars.is_empty());
    }
}
