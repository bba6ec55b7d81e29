//! [`RosterStore`]: persons and the chief posts they hold or deputise for.

use async_trait::async_trait;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chief::{Person, PersonId, Post};

use crate::error::Result;

/// The roster: persons and posts.
#[async_trait]
pub trait RosterStore: Send + Sync {
    /// Inserts or replaces persons and posts (by person id and by post area code), all or
    /// nothing. A post's area must exist (else field `area_code`) and have the post's level
    /// (`area.level.chief_level() == post.level`, else field `level`); its holder and deputy
    /// must exist or be in `persons` (fields `holder`, `deputy`); each leave must end after
    /// it starts (`leave`); a person needs a name of 1 to 100 characters (`name`); an id or
    /// area given twice is refused (`persons`, `posts`). All are
    /// [`StoreError::Invalid`](crate::StoreError::Invalid).
    async fn upsert_roster(&self, persons: &[Person], posts: &[Post]) -> Result<()>;

    /// NotFound if absent.
    async fn get_person(&self, id: &PersonId) -> Result<Person>;

    /// Persons by id; ids not found are left out.
    async fn get_persons(&self, ids: &[PersonId]) -> Result<Vec<Person>>;

    /// The posts of these areas (areas without a post are left out), in no set order.
    async fn posts_for_areas(&self, codes: &[AreaCode]) -> Result<Vec<Post>>;

    /// The posts a person holds or deputises for, ordered by area code.
    async fn posts_of_person(&self, id: &PersonId) -> Result<Vec<Post>>;
}
