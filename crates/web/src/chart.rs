//! Bar charts drawn on the server as SVG (no script, no CDN, nothing for the CSP to allow):
//! the Overview's history and the Metrics tab's per-minute chart. Each bar is two stacked
//! parts, the good part and the failed part; every coordinate is a number computed here, and
//! each bar's title is text the template escapes.

/// Each bar's slot in SVG units: the bar is [`BAR`] wide with a unit of space each side.
pub(crate) const SLOT: u64 = 10;
/// A bar's width in SVG units.
pub(crate) const BAR: u64 = 8;

/// One bar, in SVG units where one job is one unit high (the drawing is stretched to the
/// page's size: `preserveAspectRatio="none"`), so every coordinate is a whole number
/// written as it is, with nothing to format or allocate a bar: a 90-day history is 90 bars
/// a request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub(crate) x: u64,
    /// The good part: top and height.
    pub(crate) ok_y: u64,
    pub(crate) ok_h: u64,
    /// The failed part, on top of the good one.
    pub(crate) fail_y: u64,
    pub(crate) fail_h: u64,
    /// The tooltip: the bar's label, its figures and a note (text the template escapes).
    pub(crate) label: String,
    pub(crate) note: String,
}

/// A chart: its bars, the tallest bar's total (the scale), the first and last labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u64,
    pub(crate) first: String,
    pub(crate) last: String,
    /// The drawing's size in SVG units (`viewBox`).
    pub(crate) width: u64,
    pub(crate) height: u64,
    pub(crate) bar_w: u64,
}

/// One bar's data: its label, its total and how many of those failed.
pub(crate) struct Point {
    pub(crate) label: String,
    pub(crate) total: u64,
    pub(crate) failed: u64,
    /// Extra text for the tooltip.
    pub(crate) note: String,
}

impl Chart {
    /// Lays out `points` left to right.
    pub(crate) fn new(points: Vec<Point>) -> Self {
        let max = points.iter().map(|p| p.total).max().unwrap_or(0);
        // An empty chart still has a height (a viewBox of height 0 draws nothing at all).
        let height = max.max(1);
        let first = points.first().map(|p| p.label.clone()).unwrap_or_default();
        let last = points.last().map(|p| p.label.clone()).unwrap_or_default();
        let width = SLOT * u64::try_from(points.len()).unwrap_or(0).max(1);
        let bars = points
            .into_iter()
            .zip(0u64..)
            .map(|(p, i)| {
                let fail_h = p.failed.min(p.total);
                let ok_h = p.total - fail_h;
                Bar {
                    x: i * SLOT + (SLOT - BAR) / 2,
                    ok_y: height - ok_h,
                    ok_h,
                    fail_y: height - ok_h - fail_h,
                    fail_h,
                    label: p.label,
                    note: p.note,
                }
            })
            .collect();
        Self {
            bars,
            max,
            first,
            last,
            width,
            height,
            bar_w: BAR,
        }
    }
}

impl Bar {
    /// The bar's total.
    pub(crate) fn total(&self) -> u64 {
        self.ok_h + self.fail_h
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
        assert_eq!((c.max, c.height, c.width), (10, 10, 30));
        assert_eq!((c.first.as_str(), c.last.as_str()), ("a", "c"));
        let a = &c.bars[0];
        assert_eq!((a.x, a.ok_h, a.fail_h), (1, 5, 5));
        assert_eq!((a.ok_y, a.fail_y), (5, 0), "the tallest reaches the top");
        assert_eq!((c.bars[1].x, c.bars[1].ok_h, c.bars[1].ok_y), (11, 0, 10));
        // More failures than runs (a hand-edited key) draw as all failed, never negative.
        assert_eq!((c.bars[2].ok_h, c.bars[2].fail_h), (0, 5));
        assert_eq!(c.bars[2].total(), 5);
        let empty = Chart::new(vec![]);
        assert!(empty.bars.is_empty());
        assert_eq!((empty.height, empty.width), (1, 10));
    }
}
