//! Where a point is: the grid that contains it, the building, and the chain of chiefs
//! above them (unit, building, grid, lane, street, command center), with vacant posts
//! marked. Serves `wuzhang.v1.RoutingService`, and gives intake the same answers
//! in-process through [`Locator`].
//!
//! Point-in-polygon runs on an in-memory [`wuzhang_spatial::GridIndex`] built from the
//! store at start; [`AreaIndex`] follows the store's area change counter and swaps in a
//! rebuilt index whole, so a lookup never sees a half-built one. The same snapshot keeps
//! every area without geometry, so lineage is answered from memory and always agrees with
//! the index that found the grid.
//!
//! Layout:
//! - [`index`]: [`AreaIndex`], the swappable grid and building indexes with every area,
//!   and the follower.
//! - [`locate`]: [`Locator`], from a reported point to a grid, building and chain.
//! - [`service`]: [`Routing`], the gRPC service.
//! - `posts`: ListPosts, the posts of an area's tree from the index and the roster.
//! - [`geojson`]: area geometry as GeoJSON for clients that ask for it.

pub mod geojson;
pub mod index;
pub mod locate;
mod posts;
pub mod service;

pub use index::AreaIndex;
pub use locate::{ChainLink, Location, Locator};
pub use service::Routing;
