//! Operating an installation: import areas and the roster, categories, calendars.
//!
//! Every handler authenticates first (the interceptor put a [`Principal`] on the request),
//! then admits only the roles the RPC is for; object-level scope checks come with each
//! RPC's implementation. RPCs whose issue is not done answer UNIMPLEMENTED, naming it.
//!
//! Layout: [`Admin`], the `wuzhang.v1.AdminService` implementation.
//!
//! [`Principal`]: wuzhang_domain::access::Principal

use std::sync::Arc;
use tonic::{Request, Response, Status};
use wuzhang_auth::principal;
use wuzhang_domain::access::Role;
use wuzhang_domain::clock::Clock;
use wuzhang_proto::v1::admin_service_server::AdminService;
use wuzhang_proto::v1::{
    Calendar, Category, GetCalendarRequest, GetCategoryRequest, ImportAreasRequest,
    ImportAreasResponse, ImportRosterRequest, ImportRosterResponse, ListCategoriesRequest,
    ListCategoriesResponse, SetCalendarRequest, UpsertCategoryRequest,
};
use wuzhang_rpc::ApiError;
use wuzhang_rpc::access::admit;
use wuzhang_store::Store;

/// The `AdminService` over a store.
#[derive(Debug, Clone)]
pub struct Admin {
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    store: Arc<dyn Store>,
    #[expect(dead_code, reason = "read by the handlers their issues build")]
    clock: Arc<dyn Clock>,
}

impl Admin {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn import_areas(
        &self,
        request: Request<ImportAreasRequest>,
    ) -> Result<Response<ImportAreasResponse>, Status> {
        admit(principal(&request)?, &[Role::Admin], "ImportAreas")?;
        Err(ApiError::unimplemented("ImportAreas", "issue #3").into())
    }

    async fn import_roster(
        &self,
        request: Request<ImportRosterRequest>,
    ) -> Result<Response<ImportRosterResponse>, Status> {
        admit(principal(&request)?, &[Role::Admin], "ImportRoster")?;
        Err(ApiError::unimplemented("ImportRoster", "issue #3").into())
    }

    async fn upsert_category(
        &self,
        request: Request<UpsertCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        admit(principal(&request)?, &[Role::Admin], "UpsertCategory")?;
        Err(ApiError::unimplemented("UpsertCategory", "issue #4").into())
    }

    async fn get_category(
        &self,
        request: Request<GetCategoryRequest>,
    ) -> Result<Response<Category>, Status> {
        admit(principal(&request)?, &[Role::Admin], "GetCategory")?;
        Err(ApiError::unimplemented("GetCategory", "issue #4").into())
    }

    async fn list_categories(
        &self,
        request: Request<ListCategoriesRequest>,
    ) -> Result<Response<ListCategoriesResponse>, Status> {
        admit(principal(&request)?, &[Role::Admin], "ListCategories")?;
        Err(ApiError::unimplemented("ListCategories", "issue #4").into())
    }

    async fn set_calendar(
        &self,
        request: Request<SetCalendarRequest>,
    ) -> Result<Response<Calendar>, Status> {
        admit(principal(&request)?, &[Role::Admin], "SetCalendar")?;
        Err(ApiError::unimplemented("SetCalendar", "issue #5").into())
    }

    async fn get_calendar(
        &self,
        request: Request<GetCalendarRequest>,
    ) -> Result<Response<Calendar>, Status> {
        admit(principal(&request)?, &[Role::Admin], "GetCalendar")?;
        Err(ApiError::unimplemented("GetCalendar", "issue #5").into())
    }
}
