//! Inline SVG charts: the reporting progress bar, one party's share bar with the threshold line,
//! and the seats hemicycle. Geometry uses floats; it only draws, it never decides anything.

use std::f64::consts::PI;
use std::fmt::Write as _;

use super::html::esc;

/// One coloured part of a chart.
pub struct Part<'a> {
    pub label: &'a str,
    /// CSS colour (validated by the caller: `#rrggbb`).
    pub color: &'a str,
    pub value: u64,
}

/// A horizontal stacked bar of `parts` out of `total`, 100% wide, with a text alternative.
pub fn stacked_bar(parts: &[Part<'_>], total: u64, title: &str) -> String {
    let mut out = format!(
        "<svg class=\"bar\" viewBox=\"0 0 1000 24\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{}\">\
         <rect width=\"1000\" height=\"24\" fill=\"#e7e9ee\"/>",
        esc(title)
    );
    let mut x = 0.0;
    for part in parts {
        let width = if total == 0 { 0.0 } else { 1000.0 * part.value as f64 / total as f64 };
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" width=\"{width:.1}\" height=\"24\" fill=\"{}\"><title>{}</title></rect>",
            esc(part.color),
            esc(part.label)
        );
        x += width;
    }
    out.push_str("</svg>");
    out
}

/// One party's share bar on a scale from 0 to `scale_max` (a fraction ×10⁶), with the threshold
/// drawn as a dashed line.
pub fn share_bar(color: &str, share_ppm: u64, threshold_ppm: u64, scale_max_ppm: u64) -> String {
    let scale = scale_max_ppm.max(1) as f64;
    let width = (1000.0 * share_ppm as f64 / scale).min(1000.0);
    let line = 1000.0 * threshold_ppm as f64 / scale;
    let mut out = format!(
        "<svg class=\"share\" viewBox=\"0 0 1000 20\" preserveAspectRatio=\"none\" aria-hidden=\"true\">\
         <rect width=\"1000\" height=\"20\" fill=\"#eef0f4\"/>\
         <rect width=\"{width:.1}\" height=\"20\" fill=\"{}\"/>",
        esc(color)
    );
    if threshold_ppm > 0 && line <= 1000.0 {
        let _ = write!(
            out,
            "<line x1=\"{line:.1}\" x2=\"{line:.1}\" y1=\"0\" y2=\"20\" stroke=\"#1b1f2a\" stroke-width=\"3\" stroke-dasharray=\"4 3\" vector-effect=\"non-scaling-stroke\"/>"
        );
    }
    out.push_str("</svg>");
    out
}

/// Seat positions of a hemicycle with `seats` seats, left to right: (x, y, r) in a 200×108 box.
fn hemicycle_positions(seats: u32) -> Vec<(f64, f64, f64)> {
    if seats == 0 {
        return Vec::new();
    }
    let (inner, outer) = (0.35, 1.0);
    // The fewest rows whose arcs hold every seat with seats spaced about as far as the rows.
    let mut rows = 1usize;
    loop {
        let spacing = (outer - inner) / rows as f64;
        let capacity: usize = (0..rows)
            .map(|i| {
                let radius = inner + spacing * (i as f64 + 0.5);
                (PI * radius / spacing).floor() as usize + 1
            })
            .sum();
        if capacity >= seats as usize || rows >= 40 {
            break;
        }
        rows += 1;
    }
    let spacing = (outer - inner) / rows as f64;
    let radii: Vec<f64> = (0..rows).map(|i| inner + spacing * (i as f64 + 0.5)).collect();
    let radius_sum: f64 = radii.iter().sum();
    // Seats per row proportional to the row's length (largest remainder, so they sum exactly).
    let exact: Vec<f64> = radii.iter().map(|r| f64::from(seats) * r / radius_sum).collect();
    let mut per_row: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut missing = seats as usize - per_row.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..rows).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    for &row in order.iter().cycle() {
        if missing == 0 {
            break;
        }
        per_row[row] += 1;
        missing -= 1;
    }
    let dot = spacing * 0.38;
    let mut positions: Vec<(f64, f64, f64, f64)> = Vec::with_capacity(seats as usize);
    for (row, &count) in per_row.iter().enumerate() {
        for j in 0..count {
            let angle =
                if count == 1 { PI / 2.0 } else { PI * (1.0 - j as f64 / (count - 1) as f64) };
            let (x, y) = (radii[row] * angle.cos(), radii[row] * angle.sin());
            positions.push((angle, x, y, radii[row]));
        }
    }
    positions.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.3.total_cmp(&b.3)));
    let radius = (90.0 * dot).min(8.0);
    positions.into_iter().map(|(_, x, y, _)| (100.0 + 90.0 * x, 98.0 - 90.0 * y, radius)).collect()
}

/// A hemicycle of seats coloured by party, in the order given (left to right).
pub fn hemicycle(parts: &[Part<'_>], title: &str) -> String {
    let total: u64 = parts.iter().map(|p| p.value).sum();
    let positions = hemicycle_positions(u32::try_from(total).unwrap_or(u32::MAX).min(5000));
    let mut out = format!(
        "<svg class=\"hemicycle\" viewBox=\"0 0 200 108\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let mut seat = positions.iter();
    for part in parts {
        if part.value == 0 {
            continue;
        }
        let _ = write!(
            out,
            "<g fill=\"{}\"><title>{}: {}</title>",
            esc(part.color),
            esc(part.label),
            part.value
        );
        for _ in 0..part.value {
            if let Some((x, y, r)) = seat.next() {
                let _ = write!(out, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\"/>");
            }
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        "<text x=\"100\" y=\"96\" text-anchor=\"middle\" class=\"total\">{total}</text></svg>"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hemicycle_places_every_seat_once() {
        for seats in [1, 2, 5, 54, 90, 120, 450] {
            let positions = hemicycle_positions(seats);
            assert_eq!(positions.len(), seats as usize);
            for (x, y, _) in &positions {
                assert!((8.0..=192.0).contains(x) && (8.0..=100.0).contains(y), "{seats}: {x},{y}");
            }
        }
        let svg = hemicycle(
            &[
                Part { label: "A", color: "#ff0000", value: 30 },
                Part { label: "B", color: "#0000ff", value: 24 },
            ],
            "seats",
        );
        assert_eq!(svg.matches("<circle").count(), 54);
    }

    #[test]
    fn share_bar_draws_threshold_line() {
        let svg = share_bar("#123456", 120_000, 50_000, 400_000);
        assert!(svg.contains("<line x1=\"125.0\""));
    }
}
