//! The code both backends share but cannot share as generic functions: the row decoders
//! and the ticket binder, expanded in each backend's `rows` for its own types.

/// Decoders from a row to the domain, the same on both backends. A macro, not a generic
/// function: sqlx's decode bounds per column type would outweigh the code. Expanded once
/// in each backend's `rows` with its row type; the `*Columns` types, `codec::person` and
/// the backend's column readers for what it stores its own way (`time_col`, `time_opt`,
/// `uuid_col`, `uuid_opt`) must be in scope there.
macro_rules! row_decoders {
    ($row:ty) => {
        pub(super) fn area_columns(row: &$row, with_geom: bool) -> Result<AreaColumns> {
            Ok(AreaColumns {
                code: row.try_get("code")?,
                name: row.try_get("name")?,
                level: row.try_get("level")?,
                parent_code: row.try_get("parent_code")?,
                community: row.try_get("community")?,
                min_lng: row.try_get("min_lng")?,
                min_lat: row.try_get("min_lat")?,
                max_lng: row.try_get("max_lng")?,
                max_lat: row.try_get("max_lat")?,
                geom: if with_geom {
                    row.try_get("geom")?
                } else {
                    None
                },
            })
        }

        pub(super) fn area_record(row: &$row) -> Result<AreaRecord> {
            let cols = area_columns(row, true)?;
            let geometry_wkb = cols.geom.clone();
            Ok(AreaRecord {
                area: cols.into_area()?,
                geometry_wkb,
            })
        }

        pub(super) fn post(row: &$row) -> Result<Post> {
            PostColumns {
                area_code: row.try_get("area_code")?,
                level: row.try_get("level")?,
                holder: row.try_get("holder")?,
                deputy: row.try_get("deputy")?,
                leave: row.try_get("leave")?,
            }
            .into_post()
        }

        pub(super) fn person(row: &$row) -> Result<Person> {
            codec::person(
                row.try_get("id")?,
                row.try_get("name")?,
                row.try_get("phone")?,
            )
        }

        pub(super) fn category(row: &$row) -> Result<Category> {
            CategoryColumns {
                code: row.try_get("code")?,
                name: row.try_get("name")?,
                parent_code: row.try_get("parent_code")?,
                kind: row.try_get("kind")?,
                start_level: row.try_get("start_level")?,
                accept_within_s: row.try_get("accept_within_s")?,
                resolve_within_s: row.try_get("resolve_within_s")?,
                deadline_kind: row.try_get("deadline_kind")?,
                urgent: row.try_get("urgent")?,
                calendar_code: row.try_get("calendar_code")?,
                duplicate_radius_m: row.try_get("duplicate_radius_m")?,
                duplicate_window_s: row.try_get("duplicate_window_s")?,
                active: row.try_get("active")?,
                reopen_on_not_solved: row.try_get("reopen_on_not_solved")?,
                organization_type: row.try_get("organization_type")?,
            }
            .into_category()
        }

        pub(super) fn area(row: &$row) -> Result<wuzhang_domain::area::Area> {
            area_columns(row, false)?.into_area()
        }

        pub(super) fn ticket(row: &$row) -> Result<Ticket> {
            TicketColumns {
                subdistrict_code: row.try_get("subdistrict_code")?,
                id: uuid_col(row, "id")?,
                grid_code: row.try_get("grid_code")?,
                state: row.try_get("state")?,
                level: row.try_get("level")?,
                assignee_area_code: row.try_get("assignee_area_code")?,
                assignee_person_id: row.try_get("assignee_person_id")?,
                category_code: row.try_get("category_code")?,
                description: row.try_get("description")?,
                lat: row.try_get("lat")?,
                lng: row.try_get("lng")?,
                crs: row.try_get("crs")?,
                original_lat: row.try_get("original_lat")?,
                original_lng: row.try_get("original_lng")?,
                original_crs: row.try_get("original_crs")?,
                address: row.try_get("address")?,
                building_code: row.try_get("building_code")?,
                unit_code: row.try_get("unit_code")?,
                media_urls: row.try_get("media_urls")?,
                contact_phone: row.try_get("contact_phone")?,
                reporter_id: row.try_get("reporter_id")?,
                urgent: row.try_get("urgent")?,
                accept_due_at: time_opt(row, "accept_due_at")?,
                resolve_due_at: time_opt(row, "resolve_due_at")?,
                created_at: time_col(row, "created_at")?,
                updated_at: time_col(row, "updated_at")?,
                duplicate_of: uuid_opt(row, "duplicate_of")?,
                pause: row.try_get("pause")?,
                rating_stars: row.try_get("rating_stars")?,
                rating_not_solved: row.try_get("rating_not_solved")?,
                rating_comment: row.try_get("rating_comment")?,
                version: row.try_get("version")?,
                supervision: row.try_get("supervision")?,
                supervision_count: row.try_get("supervision_count")?,
                clock_rate: row.try_get("clock_rate")?,
                assignee_org_code: row.try_get("assignee_org_code")?,
            }
            .into_ticket()
        }

        pub(super) fn event(row: &$row) -> Result<(i64, TicketEvent)> {
            EventColumns {
                cursor: row.try_get("cursor")?,
                subdistrict_code: row.try_get("subdistrict_code")?,
                ticket_id: uuid_col(row, "ticket_id")?,
                seq: row.try_get("seq")?,
                kind: row.try_get("kind")?,
                actor: row.try_get("actor")?,
                from_state: row.try_get("from_state")?,
                to_state: row.try_get("to_state")?,
                level: row.try_get("level")?,
                assignee_person_id: row.try_get("assignee_person_id")?,
                note: row.try_get("note")?,
                at: time_col(row, "at")?,
                accept_due_at: time_opt(row, "accept_due_at")?,
                resolve_due_at: time_opt(row, "resolve_due_at")?,
                rating_stars: row.try_get("rating_stars")?,
                rating_not_solved: row.try_get("rating_not_solved")?,
                assignee_org_code: row.try_get("assignee_org_code")?,
            }
            .into_event()
        }

        pub(super) fn idempotency(row: &$row) -> Result<IdempotencyRecord> {
            Ok(IdempotencyRecord {
                scope: row.try_get("scope")?,
                request_id: row.try_get("request_id")?,
                request_hash: row.try_get("request_hash")?,
                response: row.try_get("response")?,
                created_at: time_col(row, "created_at")?,
            })
        }
    };
}
pub(crate) use row_decoders;

/// `bind_ticket`, binding a ticket's columns in order, for a backend's query type; `$time`
/// and `$uuid` turn times and ids into what the backend stores.
macro_rules! ticket_binder {
    ($query:ident, $time:path, $uuid:path) => {
        /// Binds a ticket's columns in [`TICKET_COLUMNS`](crate::codec::TICKET_COLUMNS) order.
        pub(super) fn bind_ticket(q: $query<'_>, c: TicketColumns) -> $query<'_> {
            q.bind(c.subdistrict_code)
                .bind($uuid(c.id))
                .bind(c.grid_code)
                .bind(c.state)
                .bind(c.level)
                .bind(c.assignee_area_code)
                .bind(c.assignee_person_id)
                .bind(c.category_code)
                .bind(c.description)
                .bind(c.lat)
                .bind(c.lng)
                .bind(c.crs)
                .bind(c.original_lat)
                .bind(c.original_lng)
                .bind(c.original_crs)
                .bind(c.address)
                .bind(c.building_code)
                .bind(c.unit_code)
                .bind(c.media_urls)
                .bind(c.contact_phone)
                .bind(c.reporter_id)
                .bind(c.urgent)
                .bind(c.accept_due_at.map($time))
                .bind(c.resolve_due_at.map($time))
                .bind($time(c.created_at))
                .bind($time(c.updated_at))
                .bind(c.duplicate_of.map($uuid))
                .bind(c.pause)
                .bind(c.rating_stars)
                .bind(c.rating_not_solved)
                .bind(c.rating_comment)
                .bind(c.version)
                .bind(c.supervision)
                .bind(c.supervision_count)
                .bind(c.clock_rate)
                .bind(c.assignee_org_code)
        }
    };
}
pub(crate) use ticket_binder;
