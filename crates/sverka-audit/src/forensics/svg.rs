//! The fingerprint as an SVG written by hand (no plotting crate): a 100 × 100 heatmap of voters by
//! turnout (x) and the leader's share (y), colour on a square-root scale (ColorBrewer YlOrRd), the
//! comet-tail corner outlined, with axes, ticks and labels supplied by the caller (so the site can
//! label it in Kyrgyz, Russian or English).

use std::fmt::Write;

use super::fingerprint::{Fingerprint, BINS, TAIL_SHARE_PERCENT, TAIL_TURNOUT_PERCENT};

/// The words on the plot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Labels {
    pub title: String,
    pub x_axis: String,
    pub y_axis: String,
    /// Under the plot: what one colour step means.
    pub legend: String,
}

impl Labels {
    pub fn english(leader: &str) -> Labels {
        Labels {
            title: format!("Election fingerprint: turnout × share of {leader}"),
            x_axis: "turnout, % of registered voters".into(),
            y_axis: format!("{leader}, % of those who took part"),
            legend: "colour: voters per 1 % × 1 % cell (square-root scale); dashed: the comet-tail corner"
                .into(),
        }
    }
}

/// ColorBrewer YlOrRd (9 classes), light to dark.
const RAMP: [[u8; 3]; 9] = [
    [255, 255, 204],
    [255, 237, 160],
    [254, 217, 118],
    [254, 178, 76],
    [253, 141, 60],
    [252, 78, 42],
    [227, 26, 28],
    [189, 0, 38],
    [128, 0, 38],
];

/// The colour of a cell holding `weight` when the fullest cell holds `max`, on a square-root
/// scale (so that a cell of one station still shows beside the crowded centre); `None` for an
/// empty cell (drawn as background).
pub fn cell_colour(weight: u64, max: u64) -> Option<[u8; 3]> {
    if weight == 0 || max == 0 {
        return None;
    }
    let t = (weight as f64 / max as f64).sqrt();
    let x = t.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let i = (x.floor() as usize).min(RAMP.len() - 2);
    let f = x - i as f64;
    let mut rgb = [0u8; 3];
    for (k, c) in rgb.iter_mut().enumerate() {
        let (a, b) = (f64::from(RAMP[i][k]), f64::from(RAMP[i + 1][k]));
        *c = (a + (b - a) * f).round() as u8;
    }
    Some(rgb)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The fingerprint as a standalone SVG document (560 × 560 plot, 5 px per cell).
pub fn fingerprint_svg(fingerprint: &Fingerprint, labels: &Labels) -> String {
    const CELL: usize = 5;
    const LEFT: usize = 70;
    const TOP: usize = 40;
    let plot = CELL * BINS;
    let (width, height) = (LEFT + plot + 20, TOP + plot + 80);
    let max = fingerprint.weights.iter().flatten().copied().max().unwrap_or(0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" font-size=\"12\">",
        escape(&labels.title)
    );
    let _ = writeln!(svg, "<title>{}</title>", escape(&labels.title));
    let _ = writeln!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        LEFT + plot / 2,
        escape(&labels.title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot}\" height=\"{plot}\" fill=\"#f7f7f7\" stroke=\"#888\"/>"
    );
    svg.push_str("<g shape-rendering=\"crispEdges\">\n");
    for (t, row) in fingerprint.weights.iter().enumerate() {
        for (s, &w) in row.iter().enumerate() {
            if let Some([r, g, b]) = cell_colour(w, max) {
                let x = LEFT + t * CELL;
                let y = TOP + (BINS - 1 - s) * CELL;
                let _ = writeln!(
                    svg,
                    "<rect x=\"{x}\" y=\"{y}\" width=\"{CELL}\" height=\"{CELL}\" fill=\"#{r:02x}{g:02x}{b:02x}\"><title>{t}–{}% × {s}–{}%: {w}</title></rect>",
                    t + 1,
                    s + 1
                );
            }
        }
    }
    svg.push_str("</g>\n");
    // The comet-tail corner.
    let _ = writeln!(
        svg,
        "<rect x=\"{}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\" stroke-dasharray=\"4 3\"/>",
        LEFT + TAIL_TURNOUT_PERCENT * CELL,
        (BINS - TAIL_TURNOUT_PERCENT) * CELL,
        (BINS - TAIL_SHARE_PERCENT) * CELL
    );
    for tick in (0..=100).step_by(10) {
        let x = LEFT + tick * CELL;
        let y = TOP + plot - tick * CELL;
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#888\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{tick}</text>",
            TOP + plot,
            TOP + plot + 5,
            TOP + plot + 18
        );
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{LEFT}\" y2=\"{y}\" stroke=\"#888\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{tick}</text>",
            LEFT - 5,
            LEFT - 8,
            y + 4
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
        LEFT + plot / 2,
        TOP + plot + 38,
        escape(&labels.x_axis)
    );
    let _ = writeln!(
        svg,
        "<text transform=\"translate(20 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        TOP + plot / 2,
        escape(&labels.y_axis)
    );
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{}\" fill=\"#555\">{}</text>",
        TOP + plot + 62,
        escape(&labels.legend)
    );
    svg.push_str("</svg>\n");
    svg
}
