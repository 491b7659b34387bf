//! The fingerprint as RGB pixels, for a PNG in reports: the same cells and colours as the SVG
//! ([`super::svg::cell_colour`]), a grid line every 10 percentage points and the comet-tail corner
//! outlined. No text (no font rasteriser); the SVG carries the labels. The caller encodes the pixels
//! (the CLI uses the `png` crate): this crate does no I/O.

use super::fingerprint::{Fingerprint, BINS, TAIL_SHARE_PERCENT, TAIL_TURNOUT_PERCENT};
use super::svg::cell_colour;

/// An 8-bit RGB image, rows top to bottom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// `width × height × 3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    fn fill(&mut self, x0: usize, y0: usize, w: usize, h: usize, colour: [u8; 3]) {
        for y in y0..(y0 + h).min(self.height as usize) {
            for x in x0..(x0 + w).min(self.width as usize) {
                let at = 3 * (y * self.width as usize + x);
                self.rgb[at..at + 3].copy_from_slice(&colour);
            }
        }
    }

    /// The colour at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let at = 3 * (y as usize * self.width as usize + x as usize);
        [self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]]
    }
}

/// The margin around the plot, in pixels.
pub const MARGIN: usize = 10;

/// The pixel of cell (turnout t %, share s %) is at x = MARGIN + t × cell, y = MARGIN + (99 − s) ×
/// cell (share grows upwards).
pub fn fingerprint_image(fingerprint: &Fingerprint, cell: usize) -> Image {
    let side = 2 * MARGIN + BINS * cell;
    let mut image =
        Image { width: side as u32, height: side as u32, rgb: vec![255; side * side * 3] };
    let max = fingerprint.weights.iter().flatten().copied().max().unwrap_or(0);
    image.fill(MARGIN, MARGIN, BINS * cell, BINS * cell, [247, 247, 247]);
    let grid = [225, 225, 225];
    for k in (0..=BINS).step_by(10) {
        image.fill(MARGIN + k * cell, MARGIN, 1, BINS * cell, grid);
        image.fill(MARGIN, MARGIN + k * cell, BINS * cell, 1, grid);
    }
    for (t, row) in fingerprint.weights.iter().enumerate() {
        for (s, &w) in row.iter().enumerate() {
            if let Some(colour) = cell_colour(w, max) {
                image.fill(MARGIN + t * cell, MARGIN + (BINS - 1 - s) * cell, cell, cell, colour);
            }
        }
    }
    let dark = [51, 51, 51];
    let (x0, y1) =
        (MARGIN + TAIL_TURNOUT_PERCENT * cell, MARGIN + (BINS - TAIL_SHARE_PERCENT) * cell);
    image.fill(x0, MARGIN, 1, y1 - MARGIN, dark);
    image.fill(x0, y1, MARGIN + BINS * cell - x0, 1, dark);
    // The frame.
    image.fill(MARGIN - 1, MARGIN - 1, BINS * cell + 2, 1, dark);
    image.fill(MARGIN - 1, MARGIN + BINS * cell, BINS * cell + 2, 1, dark);
    image.fill(MARGIN - 1, MARGIN - 1, 1, BINS * cell + 2, dark);
    image.fill(MARGIN + BINS * cell, MARGIN - 1, 1, BINS * cell + 2, dark);
    image
}
