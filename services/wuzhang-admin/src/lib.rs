//! Operating an installation: import areas and the roster, categories, calendars.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! An import answered OK is seen at once by the process that answered it: before answering,
//! the service has the process bring what it keeps in memory of areas and roster up to
//! date through an [`ImportFollower`] (other processes follow within their refresh
//! periods).
//!
//! Layout:
//! - [`Admin`]: the `wuzhang.v1.AdminService` implementation.
//! - [`ImportFollower`]: what the process keeps of areas and roster, refreshed on import.
//! - [`imports`]: area and roster imports, shared with the `wuzhang import-*` commands.
//! - [`organizations`]: the organization import and listing (条块协同).
//!
//! [`Principal`]: wuzhang_domain::access::Principal

pub mod calendars;
pub mod imports;
pub mod organizations;

use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_app::access::admit;
use wuzhang_app::idempotency::{Key, Recording};
use wuzhang_app::{ApiError, idempotency, request};
use wuzhang_domain::access::Role;
use wuzhang_domain::area::AreaCode;
use wuzhang_domain::clock::Clock;
use wuzhang_domain::deadline::CalendarBook;
use wuzhang_import::areas::AreaOptions;
use wuzhang_proto::convert;
use wuzhang_proto::v1::admin_service_server::AdminService;
use wuzhang_proto::v1::{
    Calendar, Category, GetCalendarRequest, GetCategoryRequest, ImportAreasRequest,
    ImportAreasResponse, ImportRosterRequest, ImportRosterResponse, ListCategoriesRequest,
    ListCategoriesResponse, SetCalendarRequest, UpsertCategoryRequest,
};
use wuzhang_proto::v1::{Crs, FeatureIssue, GeoPoint, RowIssue, import_areas_request};
use wuzhang_proto::v1::{
    ImportOrganizationsRequest, ImportOrganizationsResponse, ListOrganizationsRequest,
    ListOrganizationsResponse, Organization,
};
use wuzhang_rpc::{caller, grpc};
use wuzhang_store::Store;

/// What the process keeps in memory of the areas and the roster (the area index Locate
/// answers from, the roster cache), brought up to date after an import through this
/// service and before it is answered, so that a client reading back through the same
/// process at once sees what it imported. The binary implements it over its own parts:
/// this service knows no other service's internals.
#[tonic::async_trait]
pub trait ImportFollower: Send + Sync + std::fmt::Debug {
    /// Areas were imported: rebuild what is built from them, now.
    async fn areas_imported(&self) -> Result<(), ApiError>;
    /// The roster was imported: drop what is cached of it, now.
    async fn roster_imported(&self) -> Result<(), ApiError>;
}

/// The `AdminService` over a store.
#[derive(Debug, Clone)]
pub struct Admin {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// The calendars in force in this process, replaced after a SetCalendar.
    calendars: Arc<CalendarBook>,
    /// This process's in-memory areas and roster, refreshed before an import is answered.
    follower: Option<Arc<dyn ImportFollower>>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn row_issue(i: &wuzhang_import::roster::RowIssue) -> RowIssue {
    RowIssue {
        line: i32::try_from(i.line).unwrap_or(i32::MAX),
        field: i.field.clone(),
        reason: i.reason.clone(),
    }
}

fn feature_issue(i: &wuzhang_import::areas::FeatureIssue) -> FeatureIssue {
    FeatureIssue {
        index: count(i.index),
        code: i.code.clone().unwrap_or_default(),
        reason: i.reason.clone(),
        location: i.location.map(|(lat, lng)| GeoPoint {
            lat,
            lng,
            crs: Crs::Wgs84 as i32,
        }),
    }
}

impl Admin {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, calendars: Arc<CalendarBook>) -> Self {
        Self {
            store,
            clock,
            calendars,
            follower: None,
        }
    }

    /// Refreshes `follower` after every import, before answering.
    pub fn with_follower(mut self, follower: Arc<dyn ImportFollower>) -> Self {
        self.follower = Some(follower);
        self
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn import_areas(
        &self,
        request: Request<ImportAreasRequest>,
    ) -> Result<Response<ImportAreasResponse>, Status> {
        grpc(async move {
            let who = admit(caller(&request)?, &[Role::Admin], "ImportAreas")?;
            let r = request.get_ref();
            let request_id = request::request_id(&r.request_id)?;
            let bytes: &[u8] = match &r.source {
                Some(import_areas_request::Source::Geojson(b)) => b,
                Some(import_areas_request::Source::GeojsonText(t)) => t.as_bytes(),
                None => return Err(ApiError::invalid("geojson", "is required").into()),
            };
            let options = AreaOptions {
                default_level: convert::area_level_from_wire("default_level", r.default_level)
                    .map_err(ApiError::from)?,
                default_parent_code: match r.default_parent_code.as_str() {
                    "" => None,
                    c => Some(
                        AreaCode::new(c)
                            .map_err(|e| ApiError::invalid("default_parent_code", e.reason))?,
                    ),
                },
                repair: r.repair,
                ..AreaOptions::default()
            };
            let response = idempotency::once(
                self.store.as_ref(),
                &Key::new(who, "ImportAreas", request_id, r),
                Recording::AfterTheEffect(self.clock.as_ref()),
                || async {
                    let outcome =
                        imports::import_areas(self.store.as_ref(), bytes, &options, r.dry_run)
                            .await?;
                    if !outcome.dry_run && !outcome.issues.is_empty() {
                        return Err(ApiError::Invalid(imports::area_violations(&outcome.issues)));
                    }
                    Ok(ImportAreasResponse {
                        imported: count(outcome.imported),
                        issues: outcome.issues.iter().map(feature_issue).collect(),
                        repaired: outcome.repaired.iter().map(feature_issue).collect(),
                        dry_run: outcome.dry_run,
                        replaced: count(outcome.replaced),
                    })
                },
            )
            .await?;
            // Also on a retry answered from the record: the first answer may have been
            // lost with its refresh. A refresh that fails leaves the import stored but
            // unanswered (UNAVAILABLE): the retry with the same request id gets the answer.
            if let Some(f) = &self.follower
                && !response.dry_run
            {
                f.areas_imported().await?;
            }
            Ok(Response::new(response))
        })
        .await
    }

    async fn import_roster(
        &self,
        request: Request<ImportRosterRequest>,
    ) -> Result<Response<ImportRosterResponse>, Status> {
        grpc(async move {
            let who = admit(caller(&request)?, &[Role::Admin], "ImportRoster")?;
            let r = request.get_ref();
            let request_id = request::request_id(&r.request_id)?;
            if r.csv.is_empty() {
                return Err(ApiError::invalid("csv", "is required").into());
            }
            let response = idempotency::once(
                self.store.as_ref(),
                &Key::new(who, "ImportRoster", request_id, r),
                Recording::AfterTheEffect(self.clock.as_ref()),
                || async {
                    let outcome = imports::import_roster(
                        self.store.as_ref(),
                        &r.csv,
                        r.dry_run,
                        wuzhang_import::roster::MAX_ROSTER_FILE_BYTES,
                    )
                    .await?;
                    if !outcome.dry_run && !outcome.issues.is_empty() {
                        return Err(ApiError::Invalid(imports::roster_violations(
                            &outcome.issues,
                        )));
                    }
                    Ok(ImportRosterResponse {
                        persons: count(outcome.persons),
                        posts: count(outcome.posts),
                        vacancies: count(outcome.vacancies),
                        issues: outcome.issues.iter().map(row_issue).collect(),
                        dry_run: outcome.dry_run,
                    })
                },
            )
            .await?;
            // As for areas.
            if let Some(f) = &self.follower
                && !response.dry_run
            {
                f.roster_imported().await?;
            }
            Ok(Response::new(response))
        })
        .await
    }

    async fn import_organizations(
        &self,
        request: Request<ImportOrganizationsRequest>,
    ) -> Result<Response<ImportOrganizationsResponse>, Status> {
        grpc(async move {
            let who = admit(caller(&request)?, &[Role::Admin], "ImportOrganizations")?;
            let r = request.get_ref();
            let request_id = request::request_id(&r.request_id)?;
            if r.csv.is_empty() {
                return Err(ApiError::invalid("csv", "is required").into());
            }
            let response = idempotency::once(
                self.store.as_ref(),
                &Key::new(who, "ImportOrganizations", request_id, r),
                Recording::AfterTheEffect(self.clock.as_ref()),
                || async {
                    let outcome =
                        organizations::import_organizations(self.store.as_ref(), &r.csv, r.dry_run)
                            .await?;
                    if !outcome.dry_run && !outcome.issues.is_empty() {
                        return Err(ApiError::Invalid(imports::roster_violations(
                            &outcome.issues,
                        )));
                    }
                    Ok(ImportOrganizationsResponse {
                        imported: count(outcome.imported),
                        issues: outcome.issues.iter().map(row_issue).collect(),
                        dry_run: outcome.dry_run,
                    })
                },
            )
            .await?;
            // Organizations follow the roster's counter: this process drops them now.
            if let Some(f) = &self.follower
                && !response.dry_run
            {
                f.roster_imported().await?;
            }
            Ok(Response::new(response))
        })
        .await
    }

    async fn list_organizations(
        &self,
        request: Request<ListOrganizationsRequest>,
    ) -> Result<Response<ListOrganizationsResponse>, Status> {
        grpc(async move {
            let caller = admit(
                caller(&request)?,
                &[Role::Admin, Role::CommandCenter, Role::Organization],
                "ListOrganizations",
            )?
            .clone();
            let r = request.into_inner();
            let size = match request::page_size(r.page_size)? {
                0 => 50,
                n => n.min(500),
            } as usize;
            // The page token is the last code of the previous page: organizations are
            // few and listed by code, so that is a stable cursor.
            let after = match r.page_token.as_str() {
                "" => None,
                t => Some(
                    wuzhang_domain::organization::OrganizationCode::new(t)
                        .map_err(|_| ApiError::invalid("page_token", "is not a token we gave"))?,
                ),
            };
            let mut orgs: Vec<_> = organizations::visible(self.store.as_ref(), &caller)
                .await?
                .into_iter()
                .filter(|o| r.org_type.is_empty() || o.org_type == r.org_type)
                .filter(|o| after.as_ref().is_none_or(|a| &o.code > a))
                .take(size + 1)
                .collect();
            let next = if orgs.len() > size {
                orgs.truncate(size);
                orgs.last().map(|o| o.code.to_string()).unwrap_or_default()
            } else {
                String::new()
            };
            Ok(Response::new(ListOrganizationsResponse {
                organizations: orgs.iter().map(Organization::from).collect(),
                next_page_token: next,
            }))
        })
        .await
    }

    async fn upsert_category(
        &self,
        request: Request<UpsertCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        grpc(async move {
            let who = admit(caller(&request)?, &[Role::Admin], "UpsertCategory")?;
            let r = request.get_ref();
            let request_id = request::request_id(&r.request_id)?;
            let wire = r
                .category
                .as_ref()
                .ok_or_else(|| ApiError::invalid("category", "is required"))?;
            let category = wuzhang_domain::category::Category::try_from(wire)
                .map_err(|e| ApiError::from(e.within("category")))?;
            if let Some(parent) = &category.parent_code {
                match self.store.get_category(parent).await {
                    Ok(_) => {}
                    Err(wuzhang_store::StoreError::NotFound { .. }) => {
                        return Err(ApiError::invalid(
                            "category.parent_code",
                            format!("no category {parent}"),
                        )
                        .into());
                    }
                    Err(e) => return Err(ApiError::from(e).into()),
                }
            }
            let response = idempotency::once(
                self.store.as_ref(),
                &Key::new(who, "UpsertCategory", request_id, r),
                Recording::AfterTheEffect(self.clock.as_ref()),
                || async {
                    self.store.upsert_category(&category).await.map_err(
                        |e| match ApiError::from(e) {
                            ApiError::Invalid(v) => ApiError::Invalid(
                                v.into_iter().map(|f| f.within("category")).collect(),
                            ),
                            other => other,
                        },
                    )?;
                    Ok(Category::from(&category))
                },
            )
            .await?;
            Ok(Response::new(response))
        })
        .await
    }

    async fn get_category(
        &self,
        request: Request<GetCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        grpc(async move {
            admit(caller(&request)?, &[Role::Admin], "GetCategory")?;
            let code = wuzhang_domain::category::CategoryCode::new(&request.get_ref().code)
                .map_err(|e| ApiError::invalid("code", e.reason))?;
            let category = self
                .store
                .get_category(&code)
                .await
                .map_err(ApiError::from)?;
            Ok(Response::new(Category::from(&category)))
        })
        .await
    }

    async fn list_categories(
        &self,
        request: Request<ListCategoriesRequest>,
    ) -> Result<Response<ListCategoriesResponse>, Status> {
        grpc(async move {
            admit(caller(&request)?, &[Role::Admin], "ListCategories")?;
            let r = request.get_ref();
            let parent = match r.parent_code.as_str() {
                "" => None,
                p => Some(
                    wuzhang_domain::category::CategoryCode::new(p)
                        .map_err(|e| ApiError::invalid("parent_code", e.reason))?,
                ),
            };
            let size = match request::page_size(r.page_size)? {
                0 => 100,
                n => n.min(500),
            };
            let page = wuzhang_store::PageRequest {
                size,
                token: (!r.page_token.is_empty()).then(|| r.page_token.clone()),
            };
            let (categories, next, total) = wuzhang_app::categories::list(
                self.store.as_ref(),
                r.include_inactive,
                parent.as_ref(),
                &page,
            )
            .await?;
            Ok(Response::new(ListCategoriesResponse {
                categories: categories.iter().map(Category::from).collect(),
                next_page_token: next.unwrap_or_default(),
                total_size: i32::try_from(total).unwrap_or(i32::MAX),
            }))
        })
        .await
    }

    async fn set_calendar(
        &self,
        request: Request<SetCalendarRequest>,
    ) -> Result<Response<Calendar>, Status> {
        grpc(async move {
            let who = admit(caller(&request)?, &[Role::Admin], "SetCalendar")?;
            let r = request.get_ref();
            let request_id = request::request_id(&r.request_id)?;
            let year = calendars::year_of(r).map_err(ApiError::from)?;
            // A calendar keeps one zone for all its years.
            if let Some(cal) = self.calendars.current().calendar(&year.code) {
                cal.clone().set_year(year.clone()).map_err(ApiError::from)?;
            }
            let response = idempotency::once(
                self.store.as_ref(),
                &Key::new(who, "SetCalendar", request_id, r),
                Recording::AfterTheEffect(self.clock.as_ref()),
                || async {
                    let now = self.clock.now();
                    self.store
                        .upsert_calendar_year(&calendars::stored(&year, now))
                        .await?;
                    self.calendars
                        .replace(calendars::load(self.store.as_ref()).await?);
                    Ok(calendars::to_wire(&year, Some(now)))
                },
            )
            .await?;
            Ok(Response::new(response))
        })
        .await
    }

    async fn get_calendar(
        &self,
        request: Request<GetCalendarRequest>,
    ) -> Result<Response<Calendar>, Status> {
        grpc(async move {
            admit(caller(&request)?, &[Role::Admin], "GetCalendar")?;
            let r = request.get_ref();
            let code = if r.calendar_code.is_empty() {
                wuzhang_domain::category::DEFAULT_CALENDAR
            } else {
                r.calendar_code.as_str()
            };
            let stored = self
                .store
                .list_calendar_years()
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .find(|y| y.code == code && y.year == r.year);
            let current = self.calendars.current();
            let year = current
                .calendar(code)
                .and_then(|c| c.year(r.year))
                .ok_or_else(|| {
                    ApiError::not_found(format!("calendar {code} has no data for {}", r.year))
                })?;
            Ok(Response::new(calendars::to_wire(
                year,
                stored.map(|s| s.updated_at),
            )))
        })
        .await
    }
}
