//! The spatial core of wuzhang, pure (no I/O, no async): bring a reported point into
//! WGS84, then find the grid it falls in. Routing builds a [`GridIndex`] over every
//! grid polygon (and another over building footprints) when areas are loaded, swaps it
//! in whole, and asks it `locate(lng, lat)` for each report. A point on a shared border
//! belongs to exactly one grid, the one with the smallest code, so the answer never
//! depends on load order or on which backend asked.
//!
//! Layout:
//! - [`crs`]: GCJ-02, BD-09 and CGCS2000 to and from WGS84, with exact inverses.
//! - [`index`]: [`GridIndex`], the R-tree point-in-polygon index with the border rule,
//!   the nearest-grid fallback and compact memory layout.
//! - [`wkb_io`]: area geometry from and to the WKB the store hands over.
//! - [`synth`]: regular ~100 m unit grids over a box or clipped to a parent area, for
//!   benchmarks, the demo and import tooling.
//! - [`distance`]: haversine distances in metres.

pub mod crs;
pub mod distance;
pub mod index;
pub mod synth;
pub mod wkb_io;

pub use index::{GridIndex, Hit};
pub use wkb_io::from_wkb;
