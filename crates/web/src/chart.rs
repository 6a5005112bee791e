//! Bar charts drawn on the server as SVG (no script, no CDN, nothing for the CSP to allow):
//! the Overview's history and the Metrics tab's per-minute chart. Each bar is two stacked
//! parts, the good part and the failed part; every coordinate is a number computed here, and
//! each bar's title is text the template escapes.
//!
//! Bars are drawn upwards from the baseline (the drawing is flipped: `scale(1 -1)`), so a
//! bar's markup depends on its own figures only, not on the tallest bar's. The days of a
//! history that have ended are so drawn once and kept ([`Heads`]); a request draws today's
//! bar only (a 90-day history was 90 bars a request).

use std::sync::{Arc, Mutex};

use askama::Template;

/// Each bar's slot in SVG units: the bar is [`BAR`] wide with a unit of space each side.
pub(crate) const SLOT: u64 = 10;
/// A bar's width in SVG units.
pub(crate) const BAR: u64 = 8;

/// One bar, in SVG units where one job is one unit high (the drawing is stretched to the
/// page's size: `preserveAspectRatio="none"`), so every coordinate is a whole number
/// written as it is, with nothing to format or allocate a bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    pub(crate) x: u64,
    /// The good part's height, from the baseline.
    pub(crate) ok_h: u64,
    /// The failed part's height, on top of the good one.
    pub(crate) fail_h: u64,
    /// The tooltip: the bar's label, its figures and a note (text the template escapes).
    pub(crate) label: String,
    pub(crate) note: String,
}

/// A chart: its bars, the tallest bar's total (the scale), the first and last labels.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chart {
    /// Bars drawn already, before [`Chart::bars`] (see [`Heads`]), as markup.
    pub(crate) head: Option<Arc<str>>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Point {
    pub(crate) label: String,
    pub(crate) total: u64,
    pub(crate) failed: u64,
    /// Extra text for the tooltip.
    pub(crate) note: String,
}

/// Bars as markup (`_bars.html`, which `_chart.html` also draws its bars with).
#[derive(Template)]
#[template(path = "_bars.html")]
struct Bars<'a> {
    bars: &'a [Bar],
    bar_w: u64,
}

fn bars(points: Vec<Point>, from: u64) -> Vec<Bar> {
    points
        .into_iter()
        .zip(from..)
        .map(|(p, i)| {
            let fail_h = p.failed.min(p.total);
            Bar {
                x: i * SLOT + (SLOT - BAR) / 2,
                ok_h: p.total - fail_h,
                fail_h,
                label: p.label,
                note: p.note,
            }
        })
        .collect()
}

impl Chart {
    /// Lays out `points` left to right.
    pub(crate) fn new(points: Vec<Point>) -> Self {
        Self::after(None, &[], points)
    }

    /// Lays out `points` left to right after `head`, the markup of `drawn` (the bars
    /// before them, drawn by [`Heads::get`]).
    fn after(head: Option<Arc<str>>, drawn: &[Point], points: Vec<Point>) -> Self {
        let all = || drawn.iter().chain(&points);
        let max = all().map(|p| p.total).max().unwrap_or(0);
        let first = all().next().map(|p| p.label.clone()).unwrap_or_default();
        let last = all().last().map(|p| p.label.clone()).unwrap_or_default();
        let before = u64::try_from(drawn.len()).unwrap_or(0);
        let n = before + u64::try_from(points.len()).unwrap_or(0);
        Self {
            head,
            bars: bars(points, before),
            max,
            first,
            last,
            width: SLOT * n.max(1),
            // An empty chart still has a height (a viewBox of height 0 draws nothing at all).
            height: max.max(1),
            bar_w: BAR,
        }
    }

    /// The bars drawn already, as markup (empty for none).
    pub(crate) fn head(&self) -> &str {
        self.head.as_deref().unwrap_or("")
    }
}

impl Bar {
    /// The bar's total.
    pub(crate) fn total(&self) -> u64 {
        self.ok_h + self.fail_h
    }
}

/// The markup of a chart's first bars, kept while their figures stay the same: the days of
/// a history that have ended. One per history length.
#[derive(Debug, Default)]
pub(crate) struct Heads {
    kept: Mutex<Vec<(Vec<Point>, Arc<str>)>>,
}

impl Heads {
    /// A chart of `points` whose first `points.len() - 1` bars are drawn once and kept for
    /// as long as their figures stay the same; the last (today's) is drawn each time.
    pub(crate) fn chart(&self, mut points: Vec<Point>) -> Chart {
        let Some(last) = points.pop() else {
            return Chart::new(points);
        };
        let head = self.get(&points);
        Chart::after(head, &points, vec![last])
    }

    fn get(&self, drawn: &[Point]) -> Option<Arc<str>> {
        if drawn.is_empty() {
            return None;
        }
        // A panic elsewhere while this was held leaves nothing wrong: only kept markup.
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, markup)) = kept.iter().find(|(p, _)| p == drawn) {
            return Some(Arc::clone(markup));
        }
        let bars = bars(drawn.to_vec(), 0);
        let markup: Arc<str> = match (Bars {
            bars: &bars,
            bar_w: BAR,
        })
        .render()
        {
            Ok(m) => m.into(),
            Err(e) => {
                tracing::error!(error = %e, "drawing a chart");
                return None;
            }
        };
        // A few lengths (7, 30, 90 days); a new day replaces its length's old entry.
        kept.retain(|(p, _)| p.len() != drawn.len());
        kept.push((drawn.to_vec(), Arc::clone(&markup)));
        Some(markup)
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
        assert_eq!((c.bars[1].x, c.bars[1].ok_h), (11, 0));
        // More failures than runs (a hand-edited key) draw as all failed, never negative.
        assert_eq!((c.bars[2].ok_h, c.bars[2].fail_h), (0, 5));
        assert_eq!(c.bars[2].total(), 5);
        let empty = Chart::new(vec![]);
        assert!(empty.bars.is_empty());
        assert_eq!((empty.height, empty.width), (1, 10));
    }

    #[test]
    fn ended_bars_are_drawn_once_and_the_last_each_time() {
        let heads = Heads::default();
        let days = vec![p("d1", 10, 1), p("d2", 3, 0), p("today", 20, 2)];
        let one = heads.chart(days.clone());
        assert_eq!((one.max, one.width, one.bars.len()), (20, 30, 1));
        assert_eq!((one.first.as_str(), one.last.as_str()), ("d1", "today"));
        assert_eq!(one.bars[0].x, 21, "today's bar after the two drawn");
        let head = one.head().to_owned();
        assert_eq!(head.matches("<g>").count(), 2);
        assert!(head.contains("<title>d1: 10 (1 failed)</title>"), "{head}");
        // The same ended days: the same markup, kept (not drawn again).
        let mut later = days.clone();
        later[2].total = 25;
        let two = heads.chart(later);
        assert!(Arc::ptr_eq(
            one.head.as_ref().unwrap(),
            two.head.as_ref().unwrap()
        ));
        assert_eq!(two.max, 25);
        // Drawn alone, the same bars make the same markup.
        let whole = Chart::new(days);
        let alone = Bars {
            bars: &whole.bars[..2],
            bar_w: BAR,
        }
        .render()
        .unwrap();
        assert_eq!(alone, head);
        // An ended day that changed (read again) is drawn again.
        let three = heads.chart(vec![p("d1", 11, 1), p("d2", 3, 0), p("today", 1, 0)]);
        assert!(three.head().contains("d1: 11"));
    }
}
