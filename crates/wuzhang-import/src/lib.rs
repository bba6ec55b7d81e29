//! Turns the files people hand in — area boundaries as GeoJSON, the chief roster as CSV —
//! into domain records, or into a precise list of what is wrong with them. It is the
//! edge where such input is validated ("Input is validated at the edge"): every problem
//! is reported with the feature or line it is on and, for geometry, where on the map;
//! nothing is written unless the whole file passes. Pure functions over bytes: no I/O,
//! no async, and no panic on any input.
//!
//! Layout:
//! - [`areas`]: areas from a GeoJSON FeatureCollection — fields, coordinates, OGC validity
//!   (or in-process repair), the tree of parents, sibling overlaps and coverage gaps.
//! - [`geometry`]: validity with locations, the in-process repair (`ST_MakeValid`
//!   stand-in), areas in m², and WKB in and out.
//! - [`roster`]: chiefs, deputies and leave from CSV into persons and posts.
//! - [`organizations`]: departments, property companies and alliance units from CSV.

pub mod areas;
pub mod geometry;
pub mod organizations;
pub mod roster;

pub use areas::{
    AreaFileError, AreaImport, AreaOptions, FeatureIssue, IssueKind, Repairs, finish, import_areas,
};
pub use geometry::{from_wkb, repair_wkb, to_wkb};
pub use roster::{RosterFileError, RosterImport, RowIssue, import_roster};
