//! The chain above a ticket as it stands now, read from the store: the pure rules are
//! [`wuzhang_domain::chain`]; this reads the lineage and the posts they need.

use time::OffsetDateTime;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::chain::{Link, grid_posts, links, posts_of};
use wuzhang_domain::ticket::Ticket;
use wuzhang_store::{Store, StoreError};

/// The ticket's chain, bottom up, ending at its subdistrict's command center.
pub async fn ticket_chain(
    store: &dyn Store,
    ticket: &Ticket,
    now: OffsetDateTime,
) -> Result<Vec<Link>, StoreError> {
    let above = grid_posts(&store.lineage(&ticket.grid_code).await?);
    let areas = posts_of(ticket, &above);
    let codes: Vec<AreaCode> = areas.iter().map(|(_, c)| c.clone()).collect();
    let posts = store.posts_for_areas(&codes).await?;
    Ok(links(areas, &posts, now))
}
